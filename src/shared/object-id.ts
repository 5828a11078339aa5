import { isObjectId, type ObjectIdLike } from './document.js';

type ObjectIdClass = new (hex: string) => ObjectIdLike;

/** The driver's ObjectId class, learned from an ObjectId a MongoStore met (the core never imports the driver). */
let driverClass: ObjectIdClass | undefined;

/** Remembers the class of `id` when it is an ObjectId of the driver's (not one revived here). */
export function learnObjectIdClass(id: unknown): void {
  if (!driverClass && isObjectId(id) && !(id instanceof RevivedObjectId)) driverClass = id.constructor as ObjectIdClass;
}

/** Whether the driver's ObjectId class is known yet. */
export const knowsDriverObjectId = (): boolean => driverClass !== undefined;

/** An ObjectId of the driver's class from its hex, or undefined while none has been met. */
export function driverObjectId(hex: string): ObjectIdLike | undefined {
  return driverClass ? new driverClass(hex) : undefined;
}

/**
 * An ObjectId read back from text (a spool line), where no driver may be loaded yet. The core takes it for an
 * ObjectId (its hex in every text form, as the driver's gives); BSON serializes it through `toBSON` as the
 * driver's ObjectId once a MongoStore has met one, and as its hex before that.
 */
export class RevivedObjectId implements ObjectIdLike {
  readonly _bsontype = 'ObjectId' as const;

  constructor(private readonly hex: string) {}

  toHexString(): string {
    return this.hex;
  }

  toString(): string {
    return this.hex;
  }

  toJSON(): string {
    return this.hex;
  }

  toBSON(): unknown {
    return driverObjectId(this.hex) ?? this.hex;
  }
}
