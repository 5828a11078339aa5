import type { TargetRef } from '../../shared/document.js';

/**
 * The target of a flat shape, from its type and id fields (`entity_type`/`entity_id`, `targetObjectType`/
 * `targetObjectId`): a type alone is kept (`target_id` null); an id without its type is refused, since nothing
 * could find it by `(target_type, target_id)`.
 */
export function targetOf(type: string | null | undefined, id: string | number | null | undefined): TargetRef | null {
  if (type === null || type === undefined) return null;
  return id === null || id === undefined ? { type } : { type, id };
}

/** The key to name when an id comes without its type, if it does. */
export function missingTargetType(input: Record<string, unknown>, typeKey: string, idKey: string): string | undefined {
  const given = (key: string) => input[key] !== undefined && input[key] !== null;
  return given(idKey) && !given(typeKey) ? typeKey : undefined;
}
