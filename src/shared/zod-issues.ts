import type { z } from 'zod';
import type { ValidationIssue } from './errors.js';

type ZodIssueLike = { path: ReadonlyArray<PropertyKey>; message: string; code?: string; keys?: string[] };
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  getter?: () => z.ZodType;
}

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Turns zod issues into ours, with dotted paths; an unknown key gets a "did you mean" from `schema`'s keys there. */
export function fromZodIssues(issues: readonly ZodIssueLike[], schema?: z.ZodType, prefix: readonly PropertyKey[] = []): ValidationIssue[] {
  const join = (path: ReadonlyArray<PropertyKey>) => [...prefix, ...path].map(String).filter(Boolean).join('.');
  return issues.flatMap((issue) => {
    // One issue per unknown key, so each is named by its own path.
    if (issue.code === 'unrecognized_keys' && issue.keys) {
      const known = schema ? keysAt(schema, issue.path) : [];
      return issue.keys.map((key) => ({ path: join([...issue.path, key]), message: unknownField(key, known) }));
    }
    return [{ path: join(issue.path), message: issue.message }];
  });
}

/** `unknown field`, with the closest known name when one is within two edits. */
export function unknownField(key: string, known: readonly string[]): string {
  const near = closestName(key, known);
  return near === undefined ? 'unknown field' : `unknown field (did you mean "${near}"?)`;
}

/** The known name within `maxEdits` edits of `name` (case ignored), the nearest one, if any. */
export function closestName(name: string, known: readonly string[], maxEdits = 2): string | undefined {
  let best: string | undefined;
  let bestDistance = maxEdits + 1;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      next.push(Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, substitution));
    }
    row = next;
  }
  return row[b.length] ?? 0;
}

/** The keys an object schema knows at `path` (through optional, default, pipes, arrays, records, unions). */
export function keysAt(schema: z.ZodType, path: ReadonlyArray<PropertyKey>): string[] {
  const def = defOf(schema);
  const inner = def.innerType ?? def.in ?? def.getter?.();
  if (inner) return keysAt(inner, path);
  if (def.type === 'union') return (def.options ?? []).flatMap((option) => keysAt(option, path));
  if (path.length === 0) return def.type === 'object' ? Object.keys(def.shape ?? {}) : [];
  const [head, ...rest] = path;
  if (def.type === 'object') {
    const field = def.shape?.[String(head)];
    return field ? keysAt(field, rest) : [];
  }
  const item = def.element ?? def.valueType;
  return item ? keysAt(item, rest) : [];
}
