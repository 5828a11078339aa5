import { z } from 'zod';

/** What `logger.activity()` accepts. `user`, `ip_address` and `request_uuid` default from the scope. */
export interface ActivityInput {
  action: string;
  user?: { lookup_from: string; _id: string | number; label: string; email?: string };
  ip_address?: string | null;
  activity_date?: Date;
  link_preview?: string | null;
  request_uuid?: string | null;
}

export const userRefSchema = z.strictObject({
  lookup_from: z.string().min(1, 'must not be empty'),
  _id: z.union([z.string().min(1), z.number()], { error: 'must be a non-empty string or a number' }).transform(String),
  label: z.string().min(1, 'must not be empty'),
  email: z.email('must be an email address').optional(),
});

export const activitySchema = z.strictObject({
  action: z
    .string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') })
    .min(1, 'must not be empty')
    .max(1000, 'must be at most 1000 characters'),
  user: userRefSchema.optional(),
  ip_address: z.string().nullable().optional(),
  activity_date: z
    .date({ error: 'must be a Date' })
    .refine((d) => !Number.isNaN(d.getTime()), 'is not a valid date')
    .optional(),
  link_preview: z.string().max(2048, 'must be at most 2048 characters').nullable().optional(),
  request_uuid: z.string().min(1).nullable().optional(),
});
