import { z } from 'zod';
import { isObjectId, type UserId } from '../shared/document.js';
import { storable } from '../shared/strings.js';
import { USER_FIELD_MAX } from './user.js';
import { toComparableDate } from '../shared/dates.js';

/** What `logger.activity()` accepts. `user`, `ip_address` and `request_uuid` default from the scope. */
export interface ActivityInput {
  action: string;
  user?: { lookup_from: string; _id: UserId; label: string; email?: string };
  ip_address?: string | null;
  activity_date?: Date;
  link_preview?: string | null;
  request_uuid?: string | null;
}

const bounded = (max: number) => z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`).transform(storable);

export const userRefSchema = z.strictObject({
  lookup_from: bounded(USER_FIELD_MAX),
  // Kept as given, so a `$lookup` or a join from `lookup_from` matches the user's key.
  _id: z.union([bounded(USER_FIELD_MAX), z.number(), z.custom<UserId>(isObjectId)], {
    error: 'must be a non-empty string, a number or an ObjectId',
  }),
  label: bounded(USER_FIELD_MAX),
  email: z.email('must be an email address').max(USER_FIELD_MAX, `must be at most ${USER_FIELD_MAX} characters`).optional(),
});

export const activitySchema = z.strictObject({
  action: z
    .string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') })
    .min(1, 'must not be empty')
    .max(1000, 'must be at most 1000 characters')
    .transform(storable),
  user: userRefSchema.optional(),
  ip_address: z.string().max(100, 'must be at most 100 characters').nullable().optional(),
  activity_date: z.date({ error: 'must be a Date' }).transform(toComparableDate).optional(),
  link_preview: z.string().max(2048, 'must be at most 2048 characters').transform(storable).nullable().optional(),
  request_uuid: z.string().min(1).max(200, 'must be at most 200 characters').nullable().optional(),
});
