import { type KeyedTokenStore } from '../../src/common/interfaces/keyed-token-store.interface';
import { type TokenPair } from '../../src/common/interfaces/token-pair.interface';
import { type StoredTokens } from '../../src/common/interfaces/token-store.interface';
import { TokenStoreConflictError } from '../../src/common/token-refresh.errors';
import { compareTokenOrder, orderOfPair } from '../../src/core/tokens';

/**
 * A keyed store standing in for a database: it outlives the managers that use it (a restart
 * is a new manager on the same store), indexes when each key is due (dueKeys), and counts its
 * calls, so tests can check what reached it.
 */
export class IndexedKeyedStore implements KeyedTokenStore {
  readonly records = new Map<string, StoredTokens>();
  loads = 0;
  saves = 0;
  deletes = 0;

  async load(key: string): Promise<TokenPair | undefined> {
    this.loads++;
    const record = this.records.get(key);
    return record && { ...record };
  }

  async save(key: string, tokens: StoredTokens): Promise<void> {
    this.saves++;
    const held = this.records.get(key);
    if (held && compareTokenOrder(orderOfPair(tokens), orderOfPair(held)) < 0) throw new TokenStoreConflictError();
    this.records.set(key, { ...tokens });
  }

  async delete(key: string): Promise<void> {
    this.deletes++;
    this.records.delete(key);
  }

  async dueKeys(before: Date, limit: number): Promise<string[]> {
    const due: Array<[string, number]> = [];
    for (const [key, record] of this.records) {
      const at = record.refreshAt?.getTime() ?? record.expiresAt.getTime();
      if (at <= before.getTime()) due.push([key, at]);
    }
    return due
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([key]) => key);
  }
}
