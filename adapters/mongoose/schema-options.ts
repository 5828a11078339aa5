import type { ActionLogSchemaOptions } from './plugin.js';

// Lets `new Schema(paths, { actionLog: { ... } })` type-check without a cast.
declare module 'mongoose' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  interface SchemaOptions<DocType, TInstanceMethods, QueryHelpers, TStaticMethods, TVirtuals, THydratedDocumentType, TModelType> {
    /** actionlog's per-schema settings: `false` to record nothing, or `{ omit, stamps }`. */
    actionLog?: ActionLogSchemaOptions | false;
  }
}
