import { type Document, Long, ObjectId } from 'bson';
import { CommandError } from './errors.js';

/** The hello commands, which take the awaitable form and an exhaust stream of replies. */
export const HELLO_COMMANDS = new Set(['hello', 'isMaster', 'ismaster']);

/**
 * The server's `topologyVersion`, as every MongoDB since 4.4 reports it in `hello`: a process id new at each start,
 * and a counter that moves when the replica set changes, which this one-member set never does. Drivers that see it
 * monitor the server with the awaitable hello (streaming) and reset their monitor on a network error.
 */
export class Topology {
  readonly processId = new ObjectId();
  readonly counter = 0;

  get version(): Document {
    return { processId: this.processId, counter: Long.fromNumber(this.counter) };
  }

  /**
   * How long the hello `cmd` waits before its answer, as a replica set member decides: an awaitable hello
   * (`topologyVersion` with `maxAwaitTimeMS`) that knows the current version waits out `maxAwaitTimeMS` (nothing
   * changes here); one that names another process (a restarted server) or an older counter is answered at once.
   * Throws MongoDB's errors for what MongoDB refuses.
   */
  waitFor(cmd: Document, exhaust: boolean): number {
    const given = cmd.topologyVersion as unknown;
    const maxAwait = cmd.maxAwaitTimeMS as unknown;
    if (exhaust && maxAwait === undefined)
      throw new CommandError(51756, 'Location51756', "An isMaster or hello request with exhaust must specify 'maxAwaitTimeMS'");
    if (given === undefined || maxAwait === undefined) {
      if (given === undefined && maxAwait === undefined) return 0;
      throw new CommandError(
        31368,
        'Location31368',
        given === undefined
          ? "A request with 'maxAwaitTimeMS' must include a 'topologyVersion'"
          : "A request with a 'topologyVersion' must include 'maxAwaitTimeMS'",
      );
    }
    const command = Object.keys(cmd)[0] ?? 'hello';
    if (typeof maxAwait !== 'number' || !Number.isInteger(maxAwait))
      throw typeMismatch(`${command}.maxAwaitTimeMS`, maxAwait, "types '[long, int, decimal, double]'");
    const { processId, counter } = this.parseVersion(command, given);
    if (counter < 0) throw new CommandError(31372, 'Location31372', 'topologyVersion must have a non-negative counter');
    if (maxAwait < 0) throw new CommandError(31373, 'Location31373', 'maxAwaitTimeMS must be a non-negative integer');
    if (!processId.equals(this.processId) || counter < this.counter) return 0;
    if (counter > this.counter)
      throw new CommandError(
        31382,
        'Location31382',
        `Received a topology version with counter: ${counter} which is greater than the server topology version counter: ${this.counter}`,
      );
    return maxAwait;
  }

  private parseVersion(command: string, given: unknown): { processId: ObjectId; counter: number } {
    const field = `${command}.topologyVersion`;
    if (typeof given !== 'object' || given === null || Array.isArray(given)) throw typeMismatch(field, given, "type 'object'");
    const { processId, counter } = given as { processId?: unknown; counter?: unknown };
    if (processId === undefined) throw missingField(`${field}.processId`);
    if (counter === undefined) throw missingField(`${field}.counter`);
    if (!(processId instanceof ObjectId)) throw typeMismatch(`${field}.processId`, processId, "type 'objectId'");
    const number = Long.isLong(counter) ? counter.toNumber() : counter;
    if (typeof number !== 'number' || !Number.isInteger(number)) throw typeMismatch(`${field}.counter`, counter, "type 'long'");
    return { processId, counter: number };
  }
}

function typeMismatch(field: string, value: unknown, expected: string): CommandError {
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return new CommandError(14, 'TypeMismatch', `BSON field '${field}' is the wrong type '${type}', expected ${expected}`);
}

function missingField(field: string): CommandError {
  return new CommandError(40414, 'Location40414', `BSON field '${field}' is missing but a required field`);
}
