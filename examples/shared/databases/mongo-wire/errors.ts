/** A command failure, answered as `{ ok: 0, errmsg, code, codeName, errorLabels? }` like MongoDB does. */
export class CommandError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
    readonly errorLabels: string[] = [],
  ) {
    super(message);
  }

  toReply() {
    const reply: Record<string, unknown> = { ok: 0, errmsg: this.message, code: this.code, codeName: this.codeName };
    if (this.errorLabels.length) reply.errorLabels = this.errorLabels;
    return reply;
  }
}

export const notImplemented = (what: string) =>
  new CommandError(238, 'NotImplemented', `${what} is not implemented by the actionlog test server`);
export const commandNotFound = (name: string) => new CommandError(59, 'CommandNotFound', `no such command: '${name}'`);
export const badValue = (message: string) => new CommandError(2, 'BadValue', message);
export const failedToParse = (message: string) => new CommandError(9, 'FailedToParse', message);
export const namespaceExists = (ns: string) => new CommandError(48, 'NamespaceExists', `Collection ${ns} already exists.`);
export const namespaceNotFound = (ns: string) => new CommandError(26, 'NamespaceNotFound', `ns not found: ${ns}`);
export const cursorNotFound = (id: bigint | number) => new CommandError(43, 'CursorNotFound', `cursor id ${id} not found`);
export const immutableField = (message: string) => new CommandError(66, 'ImmutableField', message);
export const noSuchTransaction = (txn: number) =>
  new CommandError(251, 'NoSuchTransaction', `Transaction with { txnNumber: ${txn} } has been aborted.`, ['TransientTransactionError']);
export const writeConflict = () =>
  new CommandError(112, 'WriteConflict', 'Write conflict during plan execution and yielding is disabled.', ['TransientTransactionError']);
export const indexOptionsConflict = (message: string) => new CommandError(85, 'IndexOptionsConflict', message);
export const indexKeySpecsConflict = (message: string) => new CommandError(86, 'IndexKeySpecsConflict', message);
export const indexNotFound = (message: string) => new CommandError(27, 'IndexNotFound', message);

/** A duplicate key, shaped like MongoDB's E11000 write error. */
export class DuplicateKeyError extends CommandError {
  constructor(
    ns: string,
    readonly indexName: string,
    readonly keyPattern: Record<string, number>,
    readonly keyValue: Record<string, unknown>,
  ) {
    super(11000, 'DuplicateKey', `E11000 duplicate key error collection: ${ns} index: ${indexName} dup key: ${formatKey(keyValue)}`);
  }

  toWriteError(index: number) {
    return { index, code: 11000, errmsg: this.message, keyPattern: this.keyPattern, keyValue: this.keyValue };
  }

  override toReply() {
    return { ...super.toReply(), keyPattern: this.keyPattern, keyValue: this.keyValue };
  }
}

function formatKey(keyValue: Record<string, unknown>): string {
  const parts = Object.entries(keyValue).map(([k, v]) => `${k}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
  return `{ ${parts.join(', ')} }`;
}
