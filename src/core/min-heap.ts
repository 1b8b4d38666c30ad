/** Not in a heap. */
export const NOT_QUEUED = -1;

/**
 * A binary min-heap of items ordered by `before(a, b)`. Each item records its own position in
 * the field named `index`, so an item can be removed or moved after its key changed without a
 * search. An item can be in several heaps, one per index field.
 */
export class MinHeap<K extends string, T extends Record<K, number>> {
  readonly #items: T[] = [];

  constructor(
    private readonly before: (a: T, b: T) => boolean,
    private readonly index: K,
  ) {}

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  has(item: T): boolean {
    return item[this.index] !== NOT_QUEUED && this.#items[item[this.index]] === item;
  }

  /** Adds the item, or moves it to where its (changed) key now puts it. */
  upsert(item: T): void {
    if (this.has(item)) {
      this.#siftUp(item[this.index]);
      this.#siftDown(item[this.index]);
      return;
    }
    this.#set(item, this.#items.length);
    this.#items.push(item);
    this.#siftUp(item[this.index]);
  }

  pop(): T | undefined {
    const top = this.#items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  remove(item: T): void {
    if (!this.has(item)) return;
    const index = item[this.index];
    const last = this.#items.pop()!;
    this.#set(item, NOT_QUEUED);
    if (last === item) return;
    this.#items[index] = last;
    this.#set(last, index);
    this.#siftUp(index);
    this.#siftDown(last[this.index]);
  }

  clear(): void {
    for (const item of this.#items) this.#set(item, NOT_QUEUED);
    this.#items.length = 0;
  }

  #siftUp(index: number): void {
    const items = this.#items;
    const item = items[index];
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex];
      if (!this.before(item, parent)) break;
      items[index] = parent;
      this.#set(parent, index);
      index = parentIndex;
    }
    items[index] = item;
    this.#set(item, index);
  }

  #siftDown(index: number): void {
    const items = this.#items;
    const length = items.length;
    const item = items[index];
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && this.before(items[right], items[left]) ? right : left;
      if (!this.before(items[child], item)) break;
      items[index] = items[child];
      this.#set(items[index], index);
      index = child;
    }
    items[index] = item;
    this.#set(item, index);
  }

  #set(item: T, position: number): void {
    (item as Record<K, number>)[this.index] = position;
  }
}
