import type { z } from 'zod';
import { thrownText, type ValidationIssue } from '../../shared/errors.js';
import { fromZodIssues, keysAt } from '../../shared/zod-issues.js';
import { AUDIT_LOG_KEY, type AuditLogActionInput, auditLogShape } from './audit-log-shape.js';
import type { ActionDraft } from './draft.js';
import { allowedIdentifier } from './fields.js';
import { NATIVE_KEY, type NativeActionInput, nativeShape } from './native-shape.js';
import { SERVICE_KEY, type ServiceActionInput, serviceShape } from './service-shape.js';

/** What `logger.record()` accepts: actionlog's own (Auditize's) names, an ActionLog service's, or an `auditLog` object's. */
export type ActionInput = NativeActionInput | ServiceActionInput | AuditLogActionInput;

export interface ActionSchemaOptions {
  actionTypes?: readonly string[];
  targetTypes?: readonly string[];
}

interface Shape {
  /** The key that says an input is in this shape. */
  key: string;
  name: string;
  schema: z.ZodType<ActionDraft>;
}

export type ActionParse = { success: true; draft: ActionDraft } | { success: false; issues: ValidationIssue[] };

/** Parses `record()` input in any of its three shapes into one draft; built once per logger, with its allowed types. */
export class ActionParser {
  private readonly shapes: Shape[];

  constructor(options: ActionSchemaOptions) {
    const shapeOptions = {
      actionType: allowedIdentifier('action type', options.actionTypes),
      targetType: allowedIdentifier('target type', options.targetTypes),
    };
    this.shapes = [
      { key: NATIVE_KEY, name: 'actionlog', schema: nativeShape(shapeOptions) },
      { key: SERVICE_KEY, name: 'ActionLog service', schema: serviceShape(shapeOptions) },
      { key: AUDIT_LOG_KEY, name: 'auditLog object', schema: auditLogShape(shapeOptions) },
    ];
  }

  /**
   * Never throws: an input whose reading throws (a getter, a proxy) is refused naming the members that threw, as
   * any other bad input is, rather than letting the getter's error out untyped.
   */
  parse(input: unknown): ActionParse {
    try {
      return this.parseReadable(input);
    } catch (error) {
      return { success: false, issues: unreadableIssues(input, error) };
    }
  }

  private parseReadable(input: unknown): ActionParse {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      const hint = Array.isArray(input) ? ' (a list goes to recordMany())' : '';
      return { success: false, issues: [{ path: '', message: `must be an object${hint}` }] };
    }
    const given = this.shapes.filter((shape) => Object.hasOwn(input, shape.key));
    const [shape, other] = given;
    if (!shape) {
      return { success: false, issues: [{ path: 'action', message: 'is required (or action_type, or actionType)' }] };
    }
    if (other) {
      const message = `give one of ${given.map((s) => s.key).join(', ')}: each starts its own shape`;
      return { success: false, issues: [{ path: other.key, message }] };
    }
    const parsed = shape.schema.safeParse(input);
    if (parsed.success) return { success: true, draft: parsed.data };
    return { success: false, issues: this.explain(fromZodIssues(parsed.error.issues, shape.schema), shape) };
  }

  /** Names the shape a stray key belongs to, and drops "is required" where a misspelling of it was named. */
  private explain(issues: ValidationIssue[], shape: Shape): ValidationIssue[] {
    const guessed = new Set(
      issues.flatMap(
        (i) =>
          /did you mean "(.+)"/
            .exec(i.message)
            ?.slice(1)
            .map((k) => join(parent(i.path), k)) ?? [],
      ),
    );
    return issues
      .filter((i) => !(i.message === 'is required' && guessed.has(i.path)))
      .map((i) => {
        const owner = i.message.startsWith('unknown field') ? this.owner(i.path, shape) : undefined;
        return owner ? { path: i.path, message: `unknown field in the ${shape.name} shape (${owner})` } : i;
      });
  }

  /** Which other shapes a top-level key belongs to, if any. */
  private owner(path: string, shape: Shape): string | undefined {
    const others = this.shapes.filter((s) => s !== shape && keysAt(s.schema, []).includes(path));
    if (others.length === 0) return undefined;
    return `"${path}" belongs to ${others.map((s) => `the ${s.name} shape, which starts with ${s.key}`).join(', and to ')}`;
  }
}

/** How deep `unreadableIssues` looks for the member that threw (the shapes nest no deeper). */
const READ_DEPTH = 4;

/** The members of `input` whose read throws, by path; the input itself when none is found (a proxy's other traps). */
function unreadableIssues(input: unknown, error: unknown): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const seen = new Set<object>();
  const visit = (value: unknown, path: string, depth: number): void => {
    if (value === null || typeof value !== 'object' || seen.has(value) || depth > READ_DEPTH) return;
    seen.add(value);
    for (const key of Object.keys(value)) {
      const at = path ? `${path}.${key}` : key;
      let member: unknown;
      try {
        member = (value as Record<string, unknown>)[key];
      } catch (thrown) {
        issues.push({ path: at, message: `could not be read (${thrownText(thrown)})` });
        continue;
      }
      visit(member, at, depth + 1);
    }
  };
  try {
    visit(input, '', 0);
  } catch {
    // A proxy that cannot even list its keys: said of the input as a whole, below.
  }
  return issues.length > 0 ? issues : [{ path: '', message: `could not be read (${thrownText(error)})` }];
}

const parent = (path: string) => path.slice(0, Math.max(0, path.lastIndexOf('.')));
const join = (head: string, key: string) => (head ? `${head}.${key}` : key);
