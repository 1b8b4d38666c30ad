/** Everything the example listens on is loopback only. */
export const HOST = '127.0.0.1';

export interface ExampleEnv {
  /** The Nest app (PORT, default 3000). */
  port: number;
  /** The embedded authorization server (AUTH_PORT, default 3001). */
  authPort: number;
  /** The protected API (API_PORT, default 3002). */
  apiPort: number;
  /** Access token lifetime in seconds (TOKEN_TTL, default 30): short, so refreshes show up. */
  tokenTtl: number;
}

/** Reads the environment; 0 asks the OS for a free port. Throws naming the variable at fault. */
export function readExampleEnv(env: NodeJS.ProcessEnv): ExampleEnv {
  return {
    port: integer(env, 'PORT', 3000, 0, 65_535),
    authPort: integer(env, 'AUTH_PORT', 3001, 0, 65_535),
    apiPort: integer(env, 'API_PORT', 3002, 0, 65_535),
    tokenTtl: integer(env, 'TOKEN_TTL', 30, 1, 86_400),
  };
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}
