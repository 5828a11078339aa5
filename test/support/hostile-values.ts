/** `record` with an own, enumerable `key` whose getter throws (a class's accessor, a lazy field never loaded). */
export function withThrowingGetter<T extends object>(record: T, key: string, message = 'getter threw'): T {
  return Object.defineProperty(record, key, {
    enumerable: true,
    get() {
      throw new Error(message);
    },
  });
}

/** An object that cannot even list its keys: a proxy whose `ownKeys` throws. */
export function unlistable(): Record<string, unknown> {
  return new Proxy(
    {},
    {
      ownKeys() {
        throw new Error('no keys');
      },
    },
  );
}
