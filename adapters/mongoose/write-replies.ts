/* What a single-document write sent as findAndModify answers its caller: what its own command would have. */

import type { FindAndModifyReply, Raw } from './mongoose-types.js';
import { projectTopLevel } from './projection.js';

/** The answer of `updateOne`/`replaceOne`/`deleteOne`; `modified` is whether the stored document changed. */
export function countsReply(op: string, reply: FindAndModifyReply | null, modified: boolean): Raw {
  const matched = reply?.value != null;
  if (op === 'deleteOne') return { acknowledged: true, deletedCount: matched ? 1 : 0 };
  const upsertedId = reply?.lastErrorObject?.upserted;
  if (upsertedId !== undefined) return { acknowledged: true, matchedCount: 0, modifiedCount: 0, upsertedCount: 1, upsertedId };
  return {
    acknowledged: true,
    matchedCount: matched ? 1 : 0,
    modifiedCount: matched && modified ? 1 : 0,
    upsertedCount: 0,
    upsertedId: null,
  };
}

/** The answer of `findOneAnd*`: the document projected as asked, alone or in the reply with its metadata. */
export function documentReply(reply: FindAndModifyReply | null, options: Raw): unknown {
  const value = projectTopLevel(reply?.value ?? null, options.projection);
  return options.includeResultMetadata ? Object.assign({}, reply, { value }) : value;
}
