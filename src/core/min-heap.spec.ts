import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MinHeap, NOT_QUEUED } from './min-heap';

interface Item {
  value: number;
  at: number;
}

const heapOf = () => new MinHeap<'at', Item>((a, b) => a.value < b.value, 'at');

describe('MinHeap', () => {
  it('pops in order, whatever was added, moved and removed', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 100 }), fc.constantFrom('add', 'move', 'remove'))), (ops) => {
        const heap = heapOf();
        const items: Item[] = [];
        const live = new Set<Item>();
        for (const [value, op] of ops) {
          if (op === 'add' || items.length === 0) {
            const item = { value, at: NOT_QUEUED };
            items.push(item);
            heap.upsert(item);
            live.add(item);
          } else {
            const item = items[value % items.length];
            if (op === 'move') {
              item.value = value;
              heap.upsert(item);
              live.add(item);
            } else {
              heap.remove(item);
              live.delete(item);
              expect(item.at).toBe(NOT_QUEUED);
            }
          }
        }
        expect(heap.size).toBe(live.size);
        const popped: number[] = [];
        for (let item = heap.pop(); item; item = heap.pop()) popped.push(item.value);
        expect(popped).toEqual([...live].map((item) => item.value).sort((a, b) => a - b));
      }),
    );
  });

  it('knows which items it holds; clear forgets them all', () => {
    const heap = heapOf();
    const a = { value: 2, at: NOT_QUEUED };
    const b = { value: 1, at: NOT_QUEUED };
    heap.upsert(a);
    heap.upsert(b);
    expect(heap.peek()).toBe(b);
    expect(heap.has(a)).toBe(true);
    heap.clear();
    expect([heap.size, a.at, b.at, heap.has(a)]).toEqual([0, NOT_QUEUED, NOT_QUEUED, false]);
  });
});
