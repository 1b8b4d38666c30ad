import type { Attributes, Context, MeterProvider, Span, Tracer, TracerProvider } from '@opentelemetry/api';
import { TokenRefreshConfigError } from '../common/token-refresh.errors';
import { safeIdentifier } from '../core/error-classification';
import {
  type AttemptOutcome,
  type LockOutcome,
  NO_TELEMETRY,
  type RefreshAttemptInfo,
  type RefreshAttemptProbe,
  type RefreshTelemetry,
  type TelemetrySource,
} from '../core/telemetry';
import { loadOpenTelemetryApi, type OpenTelemetryApi } from './otel-api';
import { RefreshInstruments } from './otel-instruments';
import { INSTRUMENTATION_SCOPE, TokenRefreshAttributes as A, TokenRefreshSpans } from './otel-names';

export interface OpenTelemetryRefreshTelemetryOptions {
  /** Default: the global one (`metrics.setGlobalMeterProvider`, what the SDK registers), looked up when used. */
  meterProvider?: MeterProvider;
  /** Default: the global one (`trace.setGlobalTracerProvider`). */
  tracerProvider?: TracerProvider;
}

/** How often a registration watched through the global meter provider checks whether the app registered another. */
export const GLOBAL_PROVIDER_RECHECK_MS = 10_000;

const NOOP_END = (): void => undefined;

/**
 * RefreshTelemetry on OpenTelemetry: a span per refresh attempt, metrics per registration (see
 * otel-names.ts, and the README's Observability section). Without an SDK every call is the API's
 * no-op. Meters are taken when used, not at construction: the metrics API has no proxy, so a
 * meter taken before the app registers its SDK would stay a no-op.
 *
 * Nothing here is given a token, a secret or a key, so nothing here can report one.
 */
export class OpenTelemetryRefreshTelemetry implements RefreshTelemetry {
  readonly #api: OpenTelemetryApi;
  readonly #meterProvider: MeterProvider | undefined;
  readonly #tracerProvider: TracerProvider | undefined;
  readonly #sources = new Set<TelemetrySource>();
  #instruments: RefreshInstruments | undefined;
  #recheck: NodeJS.Timeout | undefined;

  constructor(options: OpenTelemetryRefreshTelemetryOptions = {}) {
    const api = loadOpenTelemetryApi();
    if (!api) {
      throw new TokenRefreshConfigError('telemetry', 'OpenTelemetryRefreshTelemetry needs the package @opentelemetry/api: npm install @opentelemetry/api');
    }
    this.#api = api;
    this.#meterProvider = options.meterProvider;
    this.#tracerProvider = options.tracerProvider;
  }

  attempt(info: RefreshAttemptInfo): RefreshAttemptProbe {
    try {
      return new AttemptProbe(this.#api, this.#current(), this.#tracer(), info);
    } catch (error) {
      this.#report(error);
      return NO_TELEMETRY.attempt(info);
    }
  }

  reauthRequired(registration: string): void {
    try {
      this.#current().reauthRequired.add(1, { [A.REGISTRATION]: registration });
    } catch (error) {
      this.#report(error);
    }
  }

  watch(source: TelemetrySource): () => void {
    this.#sources.add(source);
    this.#follow();
    // An SDK registered after start would otherwise show no gauges until the next refresh attempt.
    if (!this.#meterProvider && !this.#recheck) {
      this.#recheck = setInterval(() => this.#follow(), GLOBAL_PROVIDER_RECHECK_MS);
      this.#recheck.unref();
    }
    return () => {
      this.#sources.delete(source);
      if (this.#sources.size === 0 && this.#recheck) {
        clearInterval(this.#recheck);
        this.#recheck = undefined;
      }
    };
  }

  /** The instruments of the meter provider in force now. */
  #current(): RefreshInstruments {
    const provider = this.#meterProvider ?? this.#api.metrics.getMeterProvider();
    if (this.#instruments?.provider !== provider) {
      this.#instruments?.close();
      this.#instruments = new RefreshInstruments(provider, () => this.#sources);
    }
    return this.#instruments;
  }

  /** Moves the gauges to the meter provider in force now, if it changed. */
  #follow(): void {
    try {
      this.#current();
    } catch (error) {
      this.#report(error);
    }
  }

  #tracer(): Tracer {
    return (this.#tracerProvider ?? this.#api.trace.getTracerProvider()).getTracer(INSTRUMENTATION_SCOPE);
  }

  /** Telemetry never fails a refresh: its own errors go to OpenTelemetry's diagnostics logger. */
  #report(error: unknown): void {
    this.#api.diag.error('nestjs-token-refresh telemetry failed', error);
  }
}

/** One refresh attempt: its span, its duration, its lock wait. */
class AttemptProbe implements RefreshAttemptProbe {
  readonly #startedAt = performance.now();
  readonly #span: Span;
  readonly #context: Context;
  readonly #attributes: Attributes;

  constructor(
    private readonly api: OpenTelemetryApi,
    private readonly instruments: RefreshInstruments,
    private readonly tracer: Tracer,
    private readonly info: RefreshAttemptInfo,
  ) {
    this.#attributes = {
      [A.REGISTRATION]: info.registration,
      [A.GRANT_TYPE]: info.grantType,
      [A.TRIGGER]: info.trigger,
    };
    // The parent is whatever is active: a request that found the token due, or nothing (the timer).
    this.#span = tracer.startSpan(TokenRefreshSpans.REFRESH, {
      kind: api.SpanKind.INTERNAL,
      attributes: { ...this.#attributes, [A.KEYED]: info.keyed, [A.ATTEMPT]: info.attempt },
    });
    this.#context = api.trace.setSpan(api.context.active(), this.#span);
  }

  lockWait(): (outcome: LockOutcome) => void {
    // The in-process lock never waits: single-flight already serialised the refresh.
    if (!this.info.distributedLock) return NOOP_END;
    const startedAt = performance.now();
    const span = this.tracer.startSpan(TokenRefreshSpans.LOCK_WAIT, { attributes: { [A.REGISTRATION]: this.info.registration } }, this.#context);
    return (outcome) => {
      this.#safely(() => {
        this.instruments.lockWait.record(secondsSince(startedAt), { [A.REGISTRATION]: this.info.registration, [A.LOCK_OUTCOME]: outcome });
        span.setAttribute(A.LOCK_OUTCOME, outcome);
        if (outcome === 'error') span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: 'lock backend failed' });
        span.end();
      });
    };
  }

  request<T>(send: () => Promise<T>): Promise<T> {
    return this.api.context.with(this.#context, send);
  }

  end(outcome: AttemptOutcome): void {
    this.#safely(() => {
      const seconds = secondsSince(this.#startedAt);
      const result = outcome.result === 'success' ? 'success' : outcome.code;
      const attributes = { ...this.#attributes, [A.OUTCOME]: result };
      this.instruments.refreshDuration.record(seconds, attributes);
      this.instruments.refreshes.add(1, attributes);
      this.#span.setAttribute(A.OUTCOME, result);
      if (outcome.result === 'success') {
        this.#span.setAttribute(A.SOURCE, outcome.source);
      } else {
        // A server's error is scrubbed text: as a metric label only when it is a plain identifier, so a
        // misbehaving server cannot mint a series per response.
        const oauthError = outcome.oauthError === undefined ? {} : { [A.OAUTH_ERROR]: safeIdentifier(outcome.oauthError) ?? 'other' };
        this.instruments.failures.add(1, { ...attributes, ...oauthError });
        this.#span.setAttributes({ [A.ERROR_TYPE]: outcome.code, ...(outcome.oauthError === undefined ? {} : { [A.OAUTH_ERROR]: outcome.oauthError }) });
        this.#span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: outcome.code });
      }
      this.#span.end();
    });
  }

  #safely(report: () => void): void {
    try {
      report();
    } catch (error) {
      this.api.diag.error('nestjs-token-refresh telemetry failed', error);
    }
  }
}

function secondsSince(startedAt: number): number {
  return (performance.now() - startedAt) / 1000;
}
