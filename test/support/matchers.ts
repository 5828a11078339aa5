import { expect } from 'vitest';

/**
 * Vitest's asymmetric matchers, typed `unknown` rather than the `any` Vitest gives them, so that an expected
 * value built with them keeps its type. They are the same matchers: `anyDate` is `expect.any(Date)`.
 */
export const anyDate: unknown = expect.any(Date);
export const anyString: unknown = expect.any(String);
export const stringMatching = (pattern: RegExp): unknown => expect.stringMatching(pattern);
