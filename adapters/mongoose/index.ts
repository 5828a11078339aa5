import './schema-options.js';

export { actionLogPlugin, type ActionLogPluginOptions, type ActionLogSchemaOptions } from './plugin.js';
export type { StampedDocument } from './stamps.js';
