import type {
  Attributes,
  BatchObservableCallback,
  Counter,
  Histogram,
  Meter,
  MeterProvider,
  Observable,
  ObservableCounter,
  ObservableGauge,
  ObservableUpDownCounter,
} from '@opentelemetry/api';
import { type RefreshState } from '../common/interfaces/refresh-status.interface';
import { type TelemetrySource } from '../core/telemetry';
import { DURATION_BUCKETS, INSTRUMENTATION_SCOPE, TokenRefreshAttributes as A, TokenRefreshMetrics as M } from './otel-names';

/** What the gauges show of one registration: summed over engines of the same name (several apps in one process). */
interface RegistrationView {
  keyed: boolean;
  counts: Map<string, number>;
  expiryMs: number | null;
  reads: { fresh: number; waited: number; failed: number };
  keys: number;
  evictions: number;
}

/**
 * Every instrument, taken from one meter provider. Built again when the app registers another
 * provider: a meter taken from the API's no-op provider stays a no-op.
 */
export class RefreshInstruments {
  readonly refreshDuration: Histogram;
  readonly refreshes: Counter;
  readonly failures: Counter;
  readonly reauthRequired: Counter;
  readonly lockWait: Histogram;
  readonly #meter: Meter;
  readonly #observables: Observable[];
  readonly #observe: BatchObservableCallback;

  constructor(
    readonly provider: MeterProvider,
    sources: () => Iterable<TelemetrySource>,
  ) {
    const meter = provider.getMeter(INSTRUMENTATION_SCOPE);
    this.#meter = meter;
    const advice = { explicitBucketBoundaries: [...DURATION_BUCKETS] };
    this.refreshDuration = meter.createHistogram(M.REFRESH_DURATION, { unit: 's', description: 'Duration of refresh attempts', advice });
    this.refreshes = meter.createCounter(M.REFRESHES, { unit: '{refresh}', description: 'Refresh attempts' });
    this.failures = meter.createCounter(M.FAILURES, { unit: '{failure}', description: 'Failed refresh attempts' });
    this.reauthRequired = meter.createCounter(M.REAUTH_REQUIRED, {
      unit: '{transition}',
      description: 'Credentials that entered reauth-required',
    });
    this.lockWait = meter.createHistogram(M.LOCK_WAIT_DURATION, { unit: 's', description: 'Waits for the distributed refresh lock', advice });
    const timeUntilExpiry = meter.createObservableGauge(M.TIME_UNTIL_EXPIRY, { unit: 's', description: 'Time until the held access token expires' });
    const credentials = meter.createObservableUpDownCounter(M.CREDENTIALS, { unit: '{credential}', description: 'Credentials per refresh state' });
    const keys = meter.createObservableUpDownCounter(M.KEYS, { unit: '{key}', description: 'Keys held in memory' });
    const evictions = meter.createObservableCounter(M.KEY_EVICTIONS, { unit: '{eviction}', description: 'Keys dropped from memory by maxKeysInMemory' });
    const reads = meter.createObservableCounter(M.ACCESS_TOKEN_READS, { unit: '{call}', description: 'getAccessToken() answers' });
    this.#observables = [timeUntilExpiry, credentials, keys, evictions, reads];
    // One callback reads every registration at collection time: the hot path only counted.
    this.#observe = (result) => {
      for (const [registration, view] of viewsOf(sources())) {
        const base: Attributes = { [A.REGISTRATION]: registration };
        for (const [state, count] of view.counts) result.observe(credentials, count, { ...base, [A.STATE]: state });
        for (const outcome of ['fresh', 'waited', 'failed'] as const) {
          result.observe(reads, view.reads[outcome], { ...base, [A.READ_OUTCOME]: outcome });
        }
        observeMemoryAndExpiry(result, view, base, { timeUntilExpiry, keys, evictions });
      }
    };
    meter.addBatchObservableCallback(this.#observe, this.#observables);
  }

  /** Stops observing through this provider (another one took its place). */
  close(): void {
    this.#meter.removeBatchObservableCallback(this.#observe, this.#observables);
  }
}

function observeMemoryAndExpiry(
  result: Parameters<BatchObservableCallback>[0],
  view: RegistrationView,
  base: Attributes,
  instruments: { timeUntilExpiry: ObservableGauge; keys: ObservableUpDownCounter; evictions: ObservableCounter },
): void {
  if (view.keyed) {
    result.observe(instruments.keys, view.keys, base);
    result.observe(instruments.evictions, view.evictions, base);
  } else if (view.expiryMs !== null) {
    result.observe(instruments.timeUntilExpiry, view.expiryMs / 1000, base);
  }
}

function viewsOf(sources: Iterable<TelemetrySource>): Map<string, RegistrationView> {
  const views = new Map<string, RegistrationView>();
  for (const source of sources) {
    let view = views.get(source.registration);
    if (!view) {
      view = { keyed: false, counts: new Map(), expiryMs: null, reads: { fresh: 0, waited: 0, failed: 0 }, keys: 0, evictions: 0 };
      views.set(source.registration, view);
    }
    view.keyed ||= source.keyed;
    for (const [state, count] of Object.entries(source.counts()) as Array<[RefreshState, number]>) {
      view.counts.set(state, (view.counts.get(state) ?? 0) + count);
    }
    const reads = source.reads();
    view.reads.fresh += reads.fresh;
    view.reads.waited += reads.waited;
    view.reads.failed += reads.failed;
    if (source.keyed) {
      const memory = source.memory();
      view.keys += memory.keys;
      view.evictions += memory.evictions;
    } else {
      const ms = source.timeUntilExpiry();
      // Two engines of one name: the one nearer expiry is the one to watch.
      if (ms !== null) view.expiryMs = view.expiryMs === null ? ms : Math.min(view.expiryMs, ms);
    }
  }
  return views;
}
