import type { Command, OptionValues } from 'commander';
import type { ActionLogger } from '../../logger.js';
import type { Entry, EntryKind, FacetCount, FacetField } from '../../stores/store.js';
import type { CliCommand } from '../kit/command.js';
import { EXIT, usageError } from '../kit/exit-codes.js';

const KINDS: EntryKind[] = ['requests', 'actions', 'changes', 'activities'];
/** The time each kind is ordered and filtered by. */
const TIME_OF: Record<EntryKind, string> = {
  requests: 'timestamp',
  actions: 'emitted_at',
  changes: 'timestamp',
  activities: 'activity_date',
};
/** The most frequent values shown, by kind and field. */
const TOPS: Array<{ kind: EntryKind; field: FacetField; title: string }> = [
  { kind: 'actions', field: 'action_type', title: 'action types' },
  { kind: 'actions', field: 'actor_id', title: 'actors of actions' },
  { kind: 'changes', field: 'model', title: 'models changed' },
];

interface KindStats {
  count: number;
  oldest: Date | null;
  newest: Date | null;
}

/** `actionlog stats`: entries per kind with their oldest and newest, and the most frequent action types, actors, models. */
export const statsCommand: CliCommand = {
  name: 'stats',
  summary: 'count the entries per kind, their oldest and newest, and the most frequent values',
  examples: ['actionlog stats --sqlite app.db', 'actionlog stats --mongodb mongodb://localhost/app --from 2026-01-01 --json'],
  configure(command: Command) {
    command
      .option('--from <date>', 'from this time on, inclusive (ISO 8601)')
      .option('--to <date>', 'up to this time, inclusive (ISO 8601)')
      .option('--top <n>', 'how many of the most frequent values to show', '5')
      .option('--json', 'print the statistics as JSON');
  },
  async run(options: OptionValues, { logger }, streams) {
    const range = { ...(options.from ? { from: options.from as string } : {}), ...(options.to ? { to: options.to as string } : {}) };
    const limit = Number(options.top);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw usageError('--top', 'must be a whole number from 1 to 1000');
    const kinds = Object.fromEntries(await Promise.all(KINDS.map(async (kind) => [kind, await kindStats(logger, kind, range)] as const)));
    const tops = await Promise.all(
      TOPS.map(async ({ kind, field, title }) => ({
        field,
        title,
        values: (await logger.facets(field, { kind, ...range }, { limit })).items,
      })),
    );
    if (options.json === true) {
      streams.stdout.write(`${JSON.stringify({ kinds, top: Object.fromEntries(tops.map((t) => [t.field, t.values])) })}\n`);
    } else streams.stdout.write(formatStats(kinds as Record<EntryKind, KindStats>, tops));
    return EXIT.ok;
  },
};

async function kindStats(logger: ActionLogger, kind: EntryKind, range: { from?: string; to?: string }): Promise<KindStats> {
  const filter = { kind, ...range };
  const [count, oldest, newest] = await Promise.all([
    logger.count(filter),
    logger.query(filter, { limit: 1, order: 'asc' }),
    logger.query(filter, { limit: 1, order: 'desc' }),
  ]);
  const timeOf = (entry: Entry | undefined) => (entry ? new Date((entry as unknown as Record<string, Date>)[TIME_OF[kind]] ?? 0) : null);
  return { count, oldest: timeOf(oldest.items[0]), newest: timeOf(newest.items[0]) };
}

function formatStats(kinds: Record<EntryKind, KindStats>, tops: Array<{ title: string; values: FacetCount[] }>): string {
  const when = (date: Date | null) => (date ? date.toISOString() : '-').padEnd(26);
  const lines = [`${'kind'.padEnd(11)}${'entries'.padStart(10)}  ${'oldest'.padEnd(26)}newest`];
  for (const kind of KINDS) {
    const s = kinds[kind];
    lines.push(`${kind.padEnd(11)}${String(s.count).padStart(10)}  ${when(s.oldest)}${when(s.newest).trimEnd()}`);
  }
  for (const { title, values } of tops) {
    lines.push('', `top ${title}:`);
    if (values.length === 0) lines.push('  (none)');
    for (const { value, count } of values) lines.push(`  ${String(count).padStart(8)}  ${value}`);
  }
  return `${lines.join('\n')}\n`;
}
