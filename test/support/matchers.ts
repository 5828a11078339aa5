import { expect } from 'vitest';

/**
 * Vitest's asymmetric matchers, typed `unknown` rather than the `any` Vitest gives them, so that an expected
 * value built with them keeps its type. They are the same matchers: `anyDate` is `expect.any(Date)`.
 */
export const anyDate: unknown = expect.any(Date);
export const anyString: unknown = expect.any(String);
export const stringMatching = (pattern: RegExp): unknown => expect.stringMatching(pattern);

/** `StoreInfo.warn` for tests: a store's warning fails the test, with its message. */
export const failOnWarning = (warning: Error): never => expect.fail(`unexpected store warning: ${warning.message}`);
