import type { z } from 'zod';

/** What every shape's schema is built with: the action and target type rules, with the configured allowed sets. */
export interface ShapeOptions {
  actionType: z.ZodType<string>;
  targetType: z.ZodType<string>;
}
