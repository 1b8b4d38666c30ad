import { type HttpOAuthClientOptions } from '../../src';
import { type ExampleMetrics } from './metrics';

export interface ExampleAppConfig {
  /** The authorization server's token endpoint and this app's client credentials. */
  oauth: HttpOAuthClientOptions;
  /** The first tokens, as a login would hand them over. */
  initialTokens: { accessToken: string; refreshToken: string; tokenType?: string; expiresIn: number };
  /** Origin (and path prefix) of the protected API: the only place the token is sent. */
  apiBaseUrl: string;
  /** A user's first tokens, as their login would hand them over (the keyed example, /users). */
  connectUser: () => Promise<{ accessToken: string; refreshToken: string; tokenType?: string; expiresIn: number }>;
  /** Runs after the token refresh has stopped, e.g. to close servers the app depends on. */
  onShutdown?: () => Promise<void>;
  /** The metrics SDK (see metrics.ts): GET /metrics serves what it collects. Without it, no /metrics. */
  metrics?: ExampleMetrics;
}

export const EXAMPLE_CONFIG = Symbol('example-app-config');
