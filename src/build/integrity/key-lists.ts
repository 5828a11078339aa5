/**
 * What canonical JSON needs of an object's keys: their order (UTF-16 code units) and each `"key":` text, worked
 * out once per list of keys met rather than once per object, since stored documents of a kind repeat theirs.
 */
export interface KeyList {
  readonly keys: readonly string[];
  /** Empty when `escaped`: such keys are decoded (and may merge) before they are sorted. */
  readonly sorted: readonly string[];
  /** `"key":` of each sorted key. */
  readonly members: readonly string[];
  /** Some key holds a `%`: an escaped key (see sanitize/keys.ts). */
  readonly escaped: boolean;
  /** One key is `_bsontype`: the object may be ObjectId-like. */
  readonly bsonType: boolean;
}

/** Longer lists are not kept: they come from user data, where each is likely met once. */
const LONGEST_KEPT = 32;
/** Lists kept per first key, and in all; bounded, as keys come from user data. */
const PER_FIRST_KEY = 8;
const MOST_KEPT = 1024;

const byFirstKey = new Map<string, KeyList[]>();
let kept = 0;

/** The list of `keys` (`Object.keys` of an object), its members written by `member`. */
export function keyListOf(keys: string[], member: (key: string) => string): KeyList {
  if (keys.length > LONGEST_KEPT) return make(keys, member);
  const first = keys.length === 0 ? '' : (keys[0] as string);
  let lists = byFirstKey.get(first);
  if (lists !== undefined) {
    for (const list of lists) if (sameKeys(list.keys, keys)) return list;
  }
  const list = make(keys, member);
  if (kept >= MOST_KEPT) {
    byFirstKey.clear();
    kept = 0;
    lists = undefined;
  }
  if (lists === undefined) byFirstKey.set(first, [list]);
  else {
    if (lists.length >= PER_FIRST_KEY) {
      lists.shift();
      kept--;
    }
    lists.push(list);
  }
  kept++;
  return list;
}

function make(keys: string[], member: (key: string) => string): KeyList {
  const escaped = keys.some((key) => key.includes('%'));
  const sorted = escaped ? [] : sortKeys([...keys]);
  return { keys, sorted, members: sorted.map(member), escaped, bsonType: keys.includes('_bsontype') };
}

// Equal keys are mostly one internalized string: comparing them is then comparing pointers.
function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Sorts keys by UTF-16 code units, as `Array.prototype.sort` does by default: `<` on strings is that order. Objects
 * have a handful of keys, where an insertion sort beats the general one.
 */
export function sortKeys(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > key) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}
