export { actionLogPlugin, type ActionLogPluginOptions, type ActionLogSchemaOptions } from './plugin.js';
