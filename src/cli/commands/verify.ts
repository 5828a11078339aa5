import type { Command, OptionValues } from 'commander';
import type { VerifyingKey } from '../../build/integrity/checkpoint-keys.js';
import type { CheckpointDocument } from '../../shared/document.js';
import type { VerifyFinding, VerifyReport, VerifyStatus } from '../../read/verify.js';
import type { CliCommand } from '../kit/command.js';
import { EXIT, usageError } from '../kit/exit-codes.js';
import { estimateEntries } from '../kit/entry-count.js';
import { startProgress } from '../kit/progress.js';
import { collectArchiveFile, collectKeyFile, findingsLimit, hmacKeyFromEnv, readAnchors } from '../kit/verify-inputs.js';

/** Intact is done, tampering is the finding verify exists to report, unverifiable is a verify that could not conclude. */
const EXIT_OF: Record<VerifyStatus, number> = { intact: EXIT.ok, tampered: EXIT.finding, unverifiable: EXIT.failed };

/** `actionlog verify`: checks the trail's chains and signed checkpoints (`logger.verify`) and names what was tampered with. */
export const verifyCommand: CliCommand = {
  name: 'verify',
  summary: 'check the trail against its hash chains and signed checkpoints; exit 1 when tampered with',
  examples: [
    'actionlog verify --sqlite app.db --key audit-public.pem',
    'actionlog verify --postgres "$DATABASE_URL" --key new.pem --key old.pem --anchors anchored.jsonl',
    'actionlog verify --sqlite app.db --key audit-public.pem --archive archive-2024.jsonl',
    'ACTIONLOG_HMAC=... actionlog verify --mongodb mongodb://localhost/app --hmac-secret-env ACTIONLOG_HMAC --json',
  ],
  configure(command: Command) {
    command
      .option('--key <file>', 'PEM file of an Ed25519 public key that signs checkpoints (repeat for rotated keys)', collectKeyFile)
      .option('--hmac-secret-env <name>', 'environment variable holding the HMAC secret that signs checkpoints', hmacKeyFromEnv)
      .option('--anchors <file>', 'JSON lines of the checkpoints integrity.anchor received, one per line', readAnchors)
      .option('--archive <file>', 'a file actionlog archive wrote, checked with the trail (repeat: give every one)', collectArchiveFile)
      .option('--from <date>', 'only entries from this time on (ISO 8601); gaps at the edges are not judged')
      .option('--to <date>', 'only entries up to this time (ISO 8601)')
      .option('--max-findings <n>', 'findings listed at most (all are counted)', findingsLimit, 1000)
      .option('--json', 'print the report as JSON');
  },
  async run(options: OptionValues, { logger }, streams) {
    const keys = [
      ...((options.key as VerifyingKey[] | undefined) ?? []),
      ...(options.hmacSecretEnv ? [options.hmacSecretEnv as VerifyingKey] : []),
    ];
    // Without a key no signature can be checked, and the best verdict is 'unverifiable': ask for the key instead.
    if (keys.length === 0)
      throw usageError('--key', 'give the key that signs checkpoints: --key FILE (repeatable) or --hmac-secret-env NAME');
    const window = {
      ...(options.from !== undefined ? { from: options.from as string } : {}),
      ...(options.to !== undefined ? { to: options.to as string } : {}),
    };
    const progress = startProgress('verify', await estimateEntries(logger, window), streams.stderr);
    const report = await logger
      .verify({
        keys,
        onProgress: (n) => {
          progress.add(n);
        },
        anchors: (options.anchors as CheckpointDocument[] | undefined) ?? [],
        archives: (options.archive as string[] | undefined) ?? [],
        maxFindings: options.maxFindings as number,
        ...window,
      })
      .finally(() => {
        progress.stop();
      });
    streams.stdout.write(options.json === true ? `${JSON.stringify(report)}\n` : formatReport(report, options.maxFindings as number));
    return EXIT_OF[report.status];
  },
};

/** A finding's sequence, or its range. */
const seqOf = (f: VerifyFinding): string =>
  f.seq === null ? '-' : f.to_seq !== undefined && f.to_seq !== f.seq ? `${f.seq}..${f.to_seq}` : String(f.seq);

/** The summary line, one line per finding, then why the trail could not be verified. */
export function formatReport(report: VerifyReport, maxFindings: number): string {
  const { entries, links, chains, checkpoints, legacy, counts } = report.summary;
  const found = Object.entries(counts).filter(([, n]) => n > 0);
  const lines = [
    `${report.status}: ${entries} entries, ${links} links in ${chains} chains, ${checkpoints} checkpoints, ${legacy} legacy` +
      (found.length > 0 ? `; ${found.map(([problem, n]) => `${problem} ${n}`).join(', ')}` : ''),
  ];
  for (const f of report.findings) {
    lines.push(`${f.problem}  ${f.kind ?? '-'}  ${f.id ?? '-'}  chain ${f.chain ?? '-'}  seq ${seqOf(f)}  ${f.message}`);
  }
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  if (total > report.findings.length) lines.push(`(only the first ${maxFindings} findings are listed: see --max-findings)`);
  for (const reason of report.unverifiable) lines.push(`unverifiable: ${reason}`);
  return `${lines.join('\n')}\n`;
}
