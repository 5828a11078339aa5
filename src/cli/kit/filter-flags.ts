import { type Command, Option, type OptionValues } from 'commander';
import type { EntryKind } from '../../stores/store.js';
import type { QueryFilter } from '../../read/filter.js';

interface FilterFlag {
  flag: string;
  field: Exclude<keyof QueryFilter, `${string}.${string}` | 'kind'>;
  /** The value's placeholder; none for a switch. */
  arg?: string;
  help: string;
  number?: boolean;
}

/** The read side's filter fields as flags (see the README, "Reading the trail"); the logger checks each one. */
const FILTER_FLAGS: readonly FilterFlag[] = [
  { flag: 'from', field: 'from', arg: '<date>', help: 'from this time on, inclusive (ISO 8601)' },
  { flag: 'to', field: 'to', arg: '<date>', help: 'up to this time, inclusive (ISO 8601)' },
  { flag: 'actor', field: 'actor_id', arg: '<id>', help: 'who: the user of a request or change, the actor of an action' },
  { flag: 'request', field: 'request_uuid', arg: '<uuid>', help: 'entries of one request' },
  { flag: 'correlation-id', field: 'correlation_id', arg: '<id>', help: 'entries of one correlation id' },
  { flag: 'module', field: 'module', arg: '<name>', help: 'entries of one module' },
  { flag: 'action-type', field: 'action_type', arg: '<type>', help: 'actions of this type' },
  { flag: 'action-category', field: 'action_category', arg: '<category>', help: 'actions of this category' },
  { flag: 'target-type', field: 'target_type', arg: '<type>', help: 'actions on this type of target' },
  { flag: 'target-id', field: 'target_id', arg: '<id>', help: 'actions on this target (with --target-type)' },
  { flag: 'tag-type', field: 'tag_type', arg: '<type>', help: 'actions with a tag of this type' },
  { flag: 'tag-ref', field: 'tag_ref', arg: '<ref>', help: 'actions with a tag of this ref' },
  { flag: 'entity-ref', field: 'entity_ref', arg: '<ref>', help: 'actions with this ref in their entity path' },
  { flag: 'search', field: 'q', arg: '<words>', help: 'actions whose note or names hold these words' },
  { flag: 'include-inactive', field: 'include_inactive', help: 'actions deactivated too' },
  { flag: 'model', field: 'model', arg: '<name>', help: 'changes (or requests that made them) of this collection or table' },
  { flag: 'model-id', field: 'model_id', arg: '<id>', help: 'changes of this record (with --model)' },
  { flag: 'change', field: 'action', arg: '<action>', help: 'changes of this action: Created, Updated, Deleted, SoftDeleted, Restored' },
  { flag: 'changed-field', field: 'changed_field', arg: '<path>', help: 'changes that changed this dotted path' },
  { flag: 'method', field: 'method', arg: '<method>', help: 'requests of this HTTP method' },
  { flag: 'route', field: 'route', arg: '<route>', help: 'requests of this route' },
  { flag: 'status', field: 'status', arg: '<code>', help: 'requests answered with this HTTP status', number: true },
];

const KINDS: EntryKind[] = ['requests', 'actions', 'changes', 'activities'];

/** `--kind`, and every filter flag, under a heading of their own in `--help`. */
export function addFilterOptions(command: Command, kindDefault: EntryKind = 'actions'): void {
  command.addOption(new Option('--kind <kind>', 'what to read').choices(KINDS).default(kindDefault).helpGroup('Filters:'));
  for (const f of FILTER_FLAGS) {
    command.addOption(new Option(`--${f.flag}${f.arg ? ` ${f.arg}` : ''}`, f.help).helpGroup('Filters:'));
  }
}

/** The logger's query filter of the parsed flags; the logger validates it and names a bad field, `flagOf` its flag. */
export function filterOf(options: OptionValues): QueryFilter & { kind: EntryKind } {
  const filter: Record<string, unknown> = { kind: options.kind as EntryKind };
  for (const f of FILTER_FLAGS) {
    const value: unknown = options[camel(f.flag)];
    if (value === undefined) continue;
    // Not a number stays as typed, for the logger to refuse it by name.
    filter[f.field] = f.number && typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  }
  return filter as unknown as QueryFilter & { kind: EntryKind };
}

/** The flag of a field the logger names in an error (`action_type` → `--action-type`, `batchSize` → `--batch-size`). */
export function flagOf(path: string): string {
  if (path.startsWith('-')) return path;
  const head = path.split('.')[0] ?? path;
  const known = FILTER_FLAGS.find((f) => f.field === head);
  return `--${known ? known.flag : head.replace(/_/g, '-').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Commander's name of an option's value: `--action-type` → `actionType`. */
export const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
