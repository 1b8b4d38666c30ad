import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { type IncomingMessage, type ServerResponse } from 'node:http';

export interface ExampleMetrics {
  exporter: PrometheusExporter;
  shutdown(): Promise<void>;
}

/**
 * The OpenTelemetry metrics SDK, registered globally before the app is built (as an app's
 * tracing/metrics setup file does), read by a Prometheus exporter that serves no port of its
 * own: the app answers GET /metrics with it. TokenRefreshModule reports through it without any
 * option, because @opentelemetry/api is installed.
 */
export function startMetrics(): ExampleMetrics {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [exporter] });
  metrics.setGlobalMeterProvider(provider);
  return {
    exporter,
    shutdown: async () => {
      await provider.shutdown();
      metrics.disable();
    },
  };
}

export const PROMETHEUS_EXPORTER = Symbol('prometheus-exporter');

@Controller('metrics')
export class MetricsController {
  constructor(@Inject(PROMETHEUS_EXPORTER) private readonly exporter: PrometheusExporter) {}

  /** The Prometheus text format: what a scrape (or `curl`) gets. */
  @Get()
  scrape(@Req() request: IncomingMessage, @Res() response: ServerResponse): void {
    this.exporter.getMetricsRequestHandler(request, response);
  }
}
