/** `@opentelemetry/api`, an optional peer dependency: loaded here and nowhere else, when first wanted. */
export type OpenTelemetryApi = typeof import('@opentelemetry/api');

let loaded: OpenTelemetryApi | null | undefined;

/** The API, or null when it is not installed. Any other failure to load it is thrown. */
export function loadOpenTelemetryApi(): OpenTelemetryApi | null {
  if (loaded !== undefined) return loaded;
  try {
    // require, not import(): a CommonJS package must load under every test runner and bundler (Jest has no import() in CommonJS).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require('@opentelemetry/api') as OpenTelemetryApi;
  } catch (error) {
    if (!isMissing(error, '@opentelemetry/api')) throw error;
    loaded = null;
  }
  return loaded;
}

function isMissing(error: unknown, name: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === 'MODULE_NOT_FOUND' && typeof message === 'string' && message.includes(`'${name}'`);
}
