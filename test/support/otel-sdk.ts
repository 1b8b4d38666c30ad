import { context, metrics, trace, type Attributes, type AttributeValue } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { DataPointType, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

/** A reader that collects when asked, as a Prometheus scrape does. */
class OnDemandReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

export interface Point {
  attributes: Attributes;
  /** A sum or gauge's value; a histogram's count. */
  value: number;
  /** Histograms only. */
  sum?: number;
}

export interface CollectedMetric {
  name: string;
  unit: string;
  type: 'counter' | 'updowncounter' | 'gauge' | 'histogram';
  points: Point[];
}

/**
 * The OpenTelemetry SDK as an app sets it up (a meter provider, a tracer provider and the
 * AsyncLocalStorage context manager), with an on-demand metric reader and in-memory spans.
 * `register()` makes them the global ones; `unregister()` puts the API back to its no-ops.
 */
export class OtelSdk {
  readonly reader = new OnDemandReader();
  readonly meterProvider = new MeterProvider({ readers: [this.reader] });
  readonly exporter = new InMemorySpanExporter();
  readonly tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(this.exporter)] });

  register(): this {
    metrics.setGlobalMeterProvider(this.meterProvider);
    trace.setGlobalTracerProvider(this.tracerProvider);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    return this;
  }

  async shutdown(): Promise<void> {
    await this.meterProvider.shutdown();
    await this.tracerProvider.shutdown();
  }

  /** Every metric the reader sees now, by name. */
  async collect(): Promise<Map<string, CollectedMetric>> {
    const { resourceMetrics, errors } = await this.reader.collect();
    if (errors.length > 0) throw new AggregateError(errors, 'metric collection failed');
    const out = new Map<string, CollectedMetric>();
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) out.set(metric.descriptor.name, simplify(metric));
    }
    return out;
  }

  spans(): ReadableSpan[] {
    return this.exporter.getFinishedSpans();
  }
}

/** Puts the global API back to its no-ops (what a process without an SDK has). */
export function unregisterOtel(): void {
  metrics.disable();
  trace.disable();
  context.disable();
}

function simplify(metric: MetricData): CollectedMetric {
  const { name, unit } = metric.descriptor;
  if (metric.dataPointType === DataPointType.HISTOGRAM) {
    return {
      name,
      unit,
      type: 'histogram',
      points: metric.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value.count, sum: p.value.sum })),
    };
  }
  if (metric.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM) throw new Error(`${name}: exponential histograms are not used`);
  const type = metric.dataPointType === DataPointType.GAUGE ? 'gauge' : metric.isMonotonic ? 'counter' : 'updowncounter';
  return { name, unit, type, points: metric.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value as number })) };
}

/** Every attribute value of every point and span, with span names and status messages: what an exporter sends. */
export function everythingReported(collected: Map<string, CollectedMetric>, spans: readonly ReadableSpan[]): string[] {
  const values = (attributes: Attributes): string[] =>
    Object.entries(attributes).flatMap(([key, value]) => [key, ...([] as AttributeValue[]).concat(value ?? []).map(String)]);
  return [
    ...[...collected.values()].flatMap((metric) => [metric.name, ...metric.points.flatMap((point) => values(point.attributes))]),
    ...spans.flatMap((span) => [span.name, span.status.message ?? '', ...values(span.attributes), ...span.events.map((e) => e.name)]),
  ];
}
