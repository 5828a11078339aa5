import { describe, expect, it } from 'vitest';
import { TransactionBuffer } from '../../src/adapter-kit/transaction-buffer.js';

/** A transaction handle (a query runner, a session): only its identity matters. */
const handle = () => ({});

describe('TransactionBuffer', () => {
  it('hands nothing over for a handle it never saw', () => {
    const buffer = new TransactionBuffer<object, string>();
    expect(buffer.committed(handle(), 0)).toEqual([]);
    expect(() => {
      buffer.rolledBack(handle(), 0);
    }).not.toThrow();
  });

  it('holds changes until the outermost commit, then hands them all over in order', () => {
    const buffer = new TransactionBuffer<object, string>();
    const tx = handle();
    buffer.add(tx, 1, 'a');
    buffer.add(tx, 1, 'b');
    buffer.add(tx, 1, 'c');
    expect(buffer.committed(tx, 0)).toEqual(['a', 'b', 'c']);
  });

  it('shows every level held, oldest first, without letting go of them (what a strict commit stores first)', () => {
    const buffer = new TransactionBuffer<object, string>();
    const tx = handle();
    expect(buffer.held(tx)).toEqual([]);
    buffer.add(tx, 1, 'a');
    buffer.add(tx, 2, 'b');
    expect(buffer.held(tx)).toEqual(['a', 'b']);
    // The savepoint is released: its change joins the transaction's.
    expect(buffer.committed(tx, 1)).toEqual([]);
    buffer.add(tx, 1, 'c');
    expect(buffer.held(tx)).toEqual(['a', 'b', 'c']);
    expect(buffer.committed(tx, 0)).toEqual(['a', 'b', 'c']);
    expect(buffer.held(tx)).toEqual([]);
  });

  it('forgets the transaction after the outermost commit', () => {
    const buffer = new TransactionBuffer<object, string>();
    const tx = handle();
    buffer.add(tx, 1, 'a');
    buffer.committed(tx, 0);
    expect(buffer.committed(tx, 0)).toEqual([]);
    buffer.add(tx, 1, 'next');
    expect(buffer.committed(tx, 0)).toEqual(['next']);
  });

  it('drops everything when the transaction rolls back', () => {
    const buffer = new TransactionBuffer<object, string>();
    const tx = handle();
    buffer.add(tx, 1, 'a');
    buffer.add(tx, 2, 'b');
    buffer.rolledBack(tx, 0);
    expect(buffer.committed(tx, 0)).toEqual([]);
  });

  describe('with savepoints', () => {
    it('hands a released savepoint frame down to the level below, recording nothing yet', () => {
      const buffer = new TransactionBuffer<object, string>();
      const tx = handle();
      buffer.add(tx, 1, 'a');
      buffer.add(tx, 2, 'b');
      expect(buffer.committed(tx, 1)).toEqual([]);
      buffer.add(tx, 1, 'c');
      expect(buffer.committed(tx, 0)).toEqual(['a', 'b', 'c']);
    });

    it('drops only the frame of a savepoint that rolls back', () => {
      const buffer = new TransactionBuffer<object, string>();
      const tx = handle();
      buffer.add(tx, 1, 'a');
      buffer.add(tx, 2, 'dropped');
      buffer.rolledBack(tx, 1);
      buffer.add(tx, 1, 'b');
      expect(buffer.committed(tx, 0)).toEqual(['a', 'b']);
    });

    it('drops the changes a released inner savepoint handed to an outer one that rolls back', () => {
      const buffer = new TransactionBuffer<object, string>();
      const tx = handle();
      buffer.add(tx, 1, 'a');
      buffer.add(tx, 2, 'b');
      buffer.add(tx, 3, 'c');
      buffer.committed(tx, 2);
      buffer.rolledBack(tx, 1);
      expect(buffer.committed(tx, 0)).toEqual(['a']);
    });

    it('keeps an outer savepoint whose inner one rolled back', () => {
      const buffer = new TransactionBuffer<object, string>();
      const tx = handle();
      buffer.add(tx, 1, 'a');
      buffer.add(tx, 2, 'b');
      buffer.add(tx, 3, 'dropped');
      buffer.rolledBack(tx, 2);
      buffer.add(tx, 2, 'c');
      buffer.committed(tx, 1);
      expect(buffer.committed(tx, 0)).toEqual(['a', 'b', 'c']);
    });

    it('keeps the order of levels when several released savepoints nest', () => {
      const buffer = new TransactionBuffer<object, string>();
      const tx = handle();
      buffer.add(tx, 1, '1a');
      buffer.add(tx, 2, '2a');
      buffer.add(tx, 3, '3a');
      buffer.add(tx, 4, '4a');
      buffer.committed(tx, 3);
      buffer.add(tx, 3, '3b');
      buffer.committed(tx, 2);
      buffer.committed(tx, 1);
      buffer.add(tx, 1, '1b');
      expect(buffer.committed(tx, 0)).toEqual(['1a', '2a', '3a', '4a', '3b', '1b']);
    });

    it('hands over every open level at once when the outermost transaction commits', () => {
      const buffer = new TransactionBuffer<object, string>();
      const tx = handle();
      buffer.add(tx, 1, 'a');
      buffer.add(tx, 2, 'b');
      buffer.add(tx, 3, 'c');
      expect(buffer.committed(tx, 0)).toEqual(['a', 'b', 'c']);
    });

    it('holds a change made at a savepoint level before any at the levels below', () => {
      const buffer = new TransactionBuffer<object, string>();
      const tx = handle();
      buffer.add(tx, 3, 'deep');
      expect(buffer.committed(tx, 2)).toEqual([]);
      buffer.rolledBack(tx, 1);
      expect(buffer.committed(tx, 0)).toEqual([]);

      buffer.add(tx, 3, 'kept');
      buffer.committed(tx, 2);
      buffer.committed(tx, 1);
      expect(buffer.committed(tx, 0)).toEqual(['kept']);
    });

    it('hands nothing over for a release when no savepoint change was held', () => {
      const buffer = new TransactionBuffer<object, string>();
      const tx = handle();
      buffer.add(tx, 1, 'a');
      expect(buffer.committed(tx, 1)).toEqual([]);
      expect(buffer.committed(tx, 0)).toEqual(['a']);
    });
  });

  it('keeps the changes of each handle apart', () => {
    const buffer = new TransactionBuffer<object, string>();
    const first = handle();
    const second = handle();
    buffer.add(first, 1, 'first-a');
    buffer.add(second, 1, 'second-a');
    buffer.add(first, 2, 'first-b');
    buffer.add(second, 2, 'second-b');
    buffer.rolledBack(first, 1);
    expect(buffer.committed(second, 0)).toEqual(['second-a', 'second-b']);
    expect(buffer.committed(first, 0)).toEqual(['first-a']);
  });

  it('hands over the very items it was given', () => {
    const buffer = new TransactionBuffer<object>();
    const tx = handle();
    const pending = {
      change: {
        action: 'Created' as const,
        model: 'orders',
        model_class_name: 'Order',
        model_namespace: 'shop.orders',
        model_id: '1',
        old_object: null,
        new_object: { _id: '1' },
      },
      context: null,
    };
    buffer.add(tx, 1, pending);
    const [handed] = buffer.committed(tx, 0);
    expect(handed).toBe(pending);
  });
});
