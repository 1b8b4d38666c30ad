import { NO_TELEMETRY, type RefreshTelemetry } from './core/telemetry';
import { loadOpenTelemetryApi } from './otel/otel-api';
import { OpenTelemetryRefreshTelemetry } from './otel/open-telemetry.telemetry';

/** One for every registration of the process: its instruments are made once per meter provider. */
let openTelemetry: RefreshTelemetry | undefined;

/**
 * The `telemetry` option as the service runs on it. By default OpenTelemetry, when
 * @opentelemetry/api is installed: as the OpenTelemetry project asks of libraries, instrumented
 * always, recording only once the app registers an SDK (until then every call is the API's no-op).
 */
export function resolveTelemetry(option: RefreshTelemetry | false | undefined): RefreshTelemetry {
  if (option === false) return NO_TELEMETRY;
  if (option !== undefined) return option;
  openTelemetry ??= loadOpenTelemetryApi() ? new OpenTelemetryRefreshTelemetry() : NO_TELEMETRY;
  return openTelemetry;
}
