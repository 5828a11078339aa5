/* The state a MongoDB update produces, where it follows exactly from the document before it. */

import { copyDocument } from 'actionlog/adapter-kit';

type Doc = Record<string, unknown>;

const NOT_EXACT = Symbol('not exact');

function parentOf(doc: Doc, path: string, create: boolean): [Doc | unknown[], string] | typeof NOT_EXACT {
  const parts = path.split('.');
  let cur: unknown = doc;
  for (const part of parts.slice(0, -1)) {
    if (part.startsWith('$')) return NOT_EXACT; // positional operators need the query to resolve
    const container = cur as Doc;
    if (container[part] === undefined || container[part] === null) {
      if (!create) return NOT_EXACT;
      container[part] = {};
    }
    cur = container[part];
    if (cur === null || typeof cur !== 'object') return NOT_EXACT;
  }
  const last = parts.at(-1)!;
  if (last.startsWith('$')) return NOT_EXACT;
  return [cur as Doc, last];
}

function isNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * `doc` after `update` (a replacement, or `$set`/`$unset`/`$inc`/`$mul`/`$min`/`$max`/`$push` on plain paths),
 * or undefined when that cannot be known without reading the document back (pipelines, positional and
 * array-filter paths, `$currentDate`, `$pull`, `$addToSet`, non-numeric arithmetic...).
 */
export function applyUpdate(doc: Doc, update: unknown): Doc | undefined {
  if (Array.isArray(update) || update === null || typeof update !== 'object') return undefined;
  const keys = Object.keys(update);
  if (!keys.some((k) => k.startsWith('$'))) return { _id: doc._id, ...copyDocument(update as Doc) };
  const out = copyDocument(doc);
  for (const [op, args] of Object.entries(update as Record<string, Doc>)) {
    if (op === '$setOnInsert') continue;
    for (const [path, value] of Object.entries(args ?? {})) {
      const slot = parentOf(out, path, op !== '$unset');
      if (slot === NOT_EXACT) {
        if (op === '$unset') continue;
        return undefined;
      }
      const [parent, key] = slot as [Doc, string];
      const current = parent[key];
      switch (op) {
        case '$set':
          parent[key] = copyDocument(value);
          break;
        case '$unset':
          delete parent[key];
          break;
        case '$inc':
        case '$mul':
          if (!isNumber(value) || (current !== undefined && !isNumber(current))) return undefined;
          parent[key] = op === '$inc' ? ((current as number | undefined) ?? 0) + value : ((current as number | undefined) ?? 0) * value;
          break;
        case '$min':
        case '$max': {
          if (current === undefined) {
            parent[key] = copyDocument(value);
            break;
          }
          const comparable = (isNumber(current) && isNumber(value)) || (current instanceof Date && value instanceof Date);
          if (!comparable) return undefined;
          const a = Number(current);
          const b = Number(value);
          if ((op === '$min' && b < a) || (op === '$max' && b > a)) parent[key] = copyDocument(value);
          break;
        }
        case '$push': {
          const each = value !== null && typeof value === 'object' && '$each' in (value as Doc) ? (value as Doc) : undefined;
          if (each && Object.keys(each).some((k) => k !== '$each')) return undefined;
          const items = each ? (each.$each as unknown[]) : [value];
          if (current !== undefined && !Array.isArray(current)) return undefined;
          parent[key] = [...((current as unknown[] | undefined) ?? []), ...copyDocument(items)];
          break;
        }
        default:
          return undefined;
      }
    }
  }
  return out;
}
