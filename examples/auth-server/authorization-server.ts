/**
 * In-process OAuth 2.0 authorization server for end-to-end tests and the example app.
 *
 * Built on `oidc-provider` (ESM-only, loaded with a dynamic import). It listens on 127.0.0.1,
 * registers one client per RFC 6749 §2.3.1 token endpoint auth method, and can mint an initial
 * grant (access + refresh token) without any browser interaction. Refresh tokens rotate on every
 * use; presenting an already-consumed refresh token revokes the whole grant (oidc-provider's own
 * reuse detection), and concurrent presentations of the same refresh token are caught as reuse
 * too. Nothing here logs token values.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { generateKeyPair, randomBytes, randomUUID, type JsonWebKey } from 'node:crypto';
import { promisify } from 'node:util';

export type ClientKey = 'basic' | 'post' | 'none';

export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

export interface RegisteredClient {
  clientId: string;
  /** Absent for the public (`none`) client. */
  clientSecret?: string;
  authMethod: TokenEndpointAuthMethod;
}

export interface AuthorizationServerOptions {
  /** Listen port; default 0 (random free port). Always bound to 127.0.0.1. */
  port?: number;
  /** Access token lifetime in seconds (default 10). */
  accessTokenTtl?: number;
  /** Lifetime in seconds of each refresh token, including rotated ones (default 1 day). */
  refreshTokenTtl?: number;
  /**
   * Default true: every refresh returns a new refresh token, and re-using a consumed refresh
   * token gets invalid_grant and revokes the whole grant.
   */
  rotateRefreshToken?: boolean;
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  /** Access token lifetime in seconds. */
  expiresIn: number;
  tokenType: string;
  grantId: string;
  scope: string;
}

export interface AuthorizationServerStats {
  /** POSTs to the token endpoint with grant_type=refresh_token. */
  refreshRequests: number;
  /** Of those, how many returned 200. */
  refreshSuccesses: number;
  /** Of those, how many returned error=invalid_grant. */
  invalidGrant: number;
  /** Of those, how many presented a refresh token that had already been consumed (rotated away). */
  reuseDetected: number;
}

export type RefreshOutcome = 'success' | 'invalid_grant' | 'error';

/** Emitted once per refresh_token grant request, after the response is produced. Contains no token values. */
export interface RefreshEvent {
  outcome: RefreshOutcome;
  status: number;
  /** OAuth error code when outcome is not success. */
  error?: string;
  /** Authenticated (or claimed) client id, when known. */
  clientId?: string;
  /** Grant the presented refresh token belonged to, when known. */
  grantId?: string;
  /** True when the presented refresh token had already been consumed. */
  reuseDetected: boolean;
}

export type RefreshListener = (event: RefreshEvent) => void;

export interface AuthorizationServer {
  /** `http://127.0.0.1:<port>` */
  readonly issuer: string;
  readonly port: number;
  /** Absolute URL of the token endpoint. */
  readonly tokenEndpoint: string;
  readonly accessTokenTtl: number;
  readonly refreshTokenTtl: number;
  readonly rotateRefreshToken: boolean;
  readonly clients: Readonly<Record<ClientKey, RegisteredClient>>;
  /** Live counters (the same object is updated in place). */
  readonly stats: Readonly<AuthorizationServerStats>;
  resetStats(): void;
  /** Mint a fresh grant with an access token and a refresh token for the given client (no browser interaction). */
  issueTokens(clientKey?: ClientKey): Promise<IssuedTokens>;
  /** Revoke a grant server side: all of its access and refresh tokens stop working. */
  revokeGrant(grantId: string): Promise<void>;
  /** True while the opaque access token exists, is unexpired and its grant has not been revoked. */
  verifyAccessToken(token: string): Promise<boolean>;
  /** Subscribe to refresh_token grant requests; returns an unsubscribe function. */
  onRefresh(listener: RefreshListener): () => void;
  /** Stop listening and destroy all open sockets. Idempotent. */
  close(): Promise<void>;
}

/* ------------------------------------------------------------------------------------------------
 * Minimal local typings for the parts of oidc-provider 9 used here (the package ships no types).
 * --------------------------------------------------------------------------------------------- */

interface OidcClient {
  clientId: string;
}

interface OidcTokenInstance {
  jti: string;
  exp?: number;
  grantId?: string;
  expiration: number;
  tokenType?: string;
  save(): Promise<string>;
}

interface OidcTokenModel {
  new (payload: Record<string, unknown>): OidcTokenInstance;
  find(value: string, options?: { ignoreExpiration?: boolean }): Promise<OidcTokenInstance | undefined>;
  revokeByGrantId(grantId: string): Promise<void>;
}

interface OidcGrantInstance {
  addOIDCScope(scope: string): void;
  save(): Promise<string>;
}

interface OidcGrantModel {
  new (payload: { accountId: string; clientId: string }): OidcGrantInstance;
  find(id: string): Promise<unknown>;
  adapter: { destroy(id: string): Promise<void> };
}

interface OidcContext {
  method: string;
  path: string;
  status: number;
  body: unknown;
  oidc?: {
    route?: string;
    params?: Record<string, unknown>;
    client?: OidcClient;
    entities: {
      RefreshToken?: OidcTokenInstance;
      RotatedRefreshToken?: OidcTokenInstance;
      Client?: OidcClient;
    };
  };
}

interface OidcProvider {
  issuer: string;
  Grant: OidcGrantModel;
  AccessToken: OidcTokenModel;
  RefreshToken: OidcTokenModel;
  AuthorizationCode: OidcTokenModel;
  Client: { find(id: string): Promise<OidcClient | undefined> };
  use(middleware: (ctx: OidcContext, next: () => Promise<void>) => Promise<void>): unknown;
  callback(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
}

interface OidcModule {
  Provider?: new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;
  default?: new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;
  errors: { InvalidGrant: new (detail?: string) => Error };
}

/* ------------------------------------------------------------------------------------------------
 * Per-instance in-memory adapter (oidc-provider's default one is process-global, LRU-capped at
 * 1000 entries and prints a warning).
 * --------------------------------------------------------------------------------------------- */

type Payload = Record<string, unknown> & { grantId?: string; userCode?: string; uid?: string; consumed?: number };

interface StoredEntry {
  payload: Payload;
  expiresAt: number;
}

const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

class InMemoryStore {
  readonly entries = new Map<string, StoredEntry>();
  readonly grants = new Map<string, Set<string>>();
  readonly uids = new Map<string, string>();
  readonly userCodes = new Map<string, string>();
  private writes = 0;

  get(key: string): Payload | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  set(key: string, model: string, payload: Payload, expiresIn: number | undefined): void {
    this.delete(key);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    this.entries.set(key, { payload, expiresAt });
    if (GRANTABLE.has(model) && typeof payload.grantId === 'string') {
      let members = this.grants.get(payload.grantId);
      if (!members) {
        members = new Set();
        this.grants.set(payload.grantId, members);
      }
      members.add(key);
    }
    if (this.writes++ % 1000 === 999) this.sweep();
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    const { grantId } = entry.payload;
    if (typeof grantId === 'string') {
      const members = this.grants.get(grantId);
      members?.delete(key);
      if (members?.size === 0) this.grants.delete(grantId);
    }
  }

  revokeByGrantId(grantId: string): void {
    const members = this.grants.get(grantId);
    if (!members) return;
    for (const key of [...members]) this.delete(key);
    this.grants.delete(grantId);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt <= now) this.delete(key);
    }
  }
}

function adapterFactory(store: InMemoryStore) {
  return class InMemoryAdapter {
    constructor(private readonly model: string) {}

    private key(id: string): string {
      return `${this.model}:${id}`;
    }

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      store.set(this.key(id), this.model, payload, expiresIn);
      if (this.model === 'Session' && typeof payload.uid === 'string') store.uids.set(payload.uid, id);
      if (typeof payload.userCode === 'string') store.userCodes.set(payload.userCode, id);
    }

    async find(id: string): Promise<Payload | undefined> {
      return store.get(this.key(id));
    }

    async findByUid(uid: string): Promise<Payload | undefined> {
      const id = store.uids.get(uid);
      return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode(userCode: string): Promise<Payload | undefined> {
      const id = store.userCodes.get(userCode);
      return id === undefined ? undefined : this.find(id);
    }

    async consume(id: string): Promise<void> {
      const payload = store.get(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id: string): Promise<void> {
      store.delete(this.key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      store.revokeByGrantId(grantId);
    }
  };
}

/* ------------------------------------------------------------------------------------------------ */

const ACCOUNT_ID = 'e2e-user';
const SCOPE = 'openid offline_access';

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer number of seconds, got ${String(value)}`);
  }
  return value;
}

async function generateSigningJwk(): Promise<JsonWebKey> {
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

async function loadOidcProvider(): Promise<OidcModule> {
  // A non-literal specifier keeps tsc from needing type declarations for the untyped ESM package.
  const specifier: string = 'oidc-provider';
  return (await import(specifier)) as OidcModule;
}

export async function startAuthorizationServer(options: AuthorizationServerOptions = {}): Promise<AuthorizationServer> {
  const accessTokenTtl = positiveInteger('accessTokenTtl', options.accessTokenTtl ?? 10);
  const refreshTokenTtl = positiveInteger('refreshTokenTtl', options.refreshTokenTtl ?? 24 * 60 * 60);
  const rotate = options.rotateRefreshToken ?? true;
  const grantTtl = Math.max(refreshTokenTtl, 14 * 24 * 60 * 60);

  const mod = await loadOidcProvider();
  const ProviderCtor = mod.Provider ?? mod.default;
  if (!ProviderCtor) throw new Error('oidc-provider did not export a Provider constructor');
  const { InvalidGrant } = mod.errors;

  const httpServer: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port ?? 0, '127.0.0.1', () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const { port } = httpServer.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const clients: Record<ClientKey, RegisteredClient> = {
    basic: { clientId: 'e2e-client-basic', clientSecret: randomBytes(24).toString('base64url'), authMethod: 'client_secret_basic' },
    post: { clientId: 'e2e-client-post', clientSecret: randomBytes(24).toString('base64url'), authMethod: 'client_secret_post' },
    none: { clientId: 'e2e-client-public', authMethod: 'none' },
  };

  const stats: AuthorizationServerStats = { refreshRequests: 0, refreshSuccesses: 0, invalidGrant: 0, reuseDetected: 0 };
  const events = new EventEmitter();
  const store = new InMemoryStore();
  /** Refresh token values (opaque = jti) that have been consumed by a rotation, with their expiry (ms). */
  const consumedRefreshTokens = new Map<string, number>();

  const rememberConsumed = (token: OidcTokenInstance): void => {
    const expiresAt = typeof token.exp === 'number' ? token.exp * 1000 : Date.now() + refreshTokenTtl * 1000;
    consumedRefreshTokens.set(token.jti, expiresAt);
    if (consumedRefreshTokens.size % 1000 === 0) {
      const now = Date.now();
      for (const [jti, exp] of consumedRefreshTokens) if (exp <= now) consumedRefreshTokens.delete(jti);
    }
  };

  let provider: OidcProvider | undefined;

  const revokeGrant = async (grantId: string): Promise<void> => {
    if (!provider) return;
    await Promise.all([
      provider.AccessToken.revokeByGrantId(grantId),
      provider.RefreshToken.revokeByGrantId(grantId),
      provider.AuthorizationCode.revokeByGrantId(grantId),
      provider.Grant.adapter.destroy(grantId),
    ]);
  };

  const configuration: Record<string, unknown> = {
    adapter: adapterFactory(store),
    clients: [
      {
        client_id: clients.basic.clientId,
        client_secret: clients.basic.clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['refresh_token'],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: clients.post.clientId,
        client_secret: clients.post.clientSecret,
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: ['refresh_token'],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: clients.none.clientId,
        token_endpoint_auth_method: 'none',
        grant_types: ['refresh_token'],
        response_types: [],
        redirect_uris: [],
      },
    ],
    clockTolerance: 0,
    cookies: { keys: ['nestjs-token-refresh-e2e-cookie-key-1'] },
    jwks: { keys: [await generateSigningJwk()] },
    features: {
      devInteractions: { enabled: false },
    },
    findAccount: async (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: async () => ({ sub }),
    }),
    // Any client allowed the refresh_token grant gets a refresh token (incl. the public one),
    // without having to request offline_access through a consent prompt.
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(grant: string): boolean }) =>
      client.grantTypeAllowed('refresh_token'),
    // oidc-provider 9's default only rotates for public clients or after 70% of the refresh token
    // lifetime; we want deterministic rotation on every use. The synchronous check-and-mark also
    // makes two concurrent requests presenting the same refresh token count as reuse (the stock
    // find -> consumed? -> consume sequence is not atomic).
    rotateRefreshToken: async (ctx: OidcContext): Promise<boolean> => {
      if (!rotate) return false;
      const presented = ctx.oidc?.entities.RefreshToken;
      if (!presented) return true;
      if (consumedRefreshTokens.has(presented.jti)) {
        if (presented.grantId) await revokeGrant(presented.grantId);
        throw new InvalidGrant('refresh token already used');
      }
      rememberConsumed(presented);
      return true;
    },
    ttl: {
      AccessToken: accessTokenTtl,
      ClientCredentials: accessTokenTtl,
      IdToken: accessTokenTtl,
      RefreshToken: refreshTokenTtl,
      Grant: grantTtl,
      AuthorizationCode: 60,
      Interaction: 60 * 60,
      Session: 24 * 60 * 60,
    },
  };

  try {
    provider = new ProviderCtor(issuer, configuration);
  } catch (err) {
    httpServer.close();
    throw err;
  }
  const oidc = provider;

  oidc.use(async (ctx, next) => {
    await next();
    const route = ctx.oidc?.route;
    if (ctx.method !== 'POST' || route !== 'token') return;
    const params = ctx.oidc?.params ?? {};
    if (params.grant_type !== 'refresh_token') return;

    const presented = typeof params.refresh_token === 'string' ? params.refresh_token : undefined;
    const body = (ctx.body ?? {}) as { error?: unknown };
    const error = typeof body.error === 'string' ? body.error : undefined;
    const success = ctx.status === 200 && !error;
    const reuse = !success && error === 'invalid_grant' && presented !== undefined && consumedRefreshTokens.has(presented);

    stats.refreshRequests += 1;
    if (success) stats.refreshSuccesses += 1;
    if (error === 'invalid_grant') stats.invalidGrant += 1;
    if (reuse) stats.reuseDetected += 1;

    const entities = ctx.oidc?.entities;
    const event: RefreshEvent = {
      outcome: success ? 'success' : error === 'invalid_grant' ? 'invalid_grant' : 'error',
      status: ctx.status,
      error,
      clientId: ctx.oidc?.client?.clientId ?? (typeof params.client_id === 'string' ? params.client_id : undefined),
      grantId: entities?.RefreshToken?.grantId ?? entities?.RotatedRefreshToken?.grantId,
      reuseDetected: reuse,
    };
    events.emit('refresh', event);
  });

  httpServer.on('request', oidc.callback());

  let closed: Promise<void> | undefined;

  const server: AuthorizationServer = {
    issuer,
    port,
    tokenEndpoint: `${issuer}/token`,
    accessTokenTtl,
    refreshTokenTtl,
    rotateRefreshToken: rotate,
    clients,
    stats,

    resetStats() {
      stats.refreshRequests = 0;
      stats.refreshSuccesses = 0;
      stats.invalidGrant = 0;
      stats.reuseDetected = 0;
    },

    async issueTokens(clientKey: ClientKey = 'basic'): Promise<IssuedTokens> {
      const registered = clients[clientKey];
      if (!registered) throw new Error(`unknown client key: ${String(clientKey)}`);
      const client = await oidc.Client.find(registered.clientId);
      if (!client) throw new Error(`client ${registered.clientId} is not registered`);

      const grant = new oidc.Grant({ accountId: ACCOUNT_ID, clientId: registered.clientId });
      grant.addOIDCScope(SCOPE);
      const grantId = await grant.save();

      // Same fields the authorization_code grant handler sets (lib/helpers/grant_common.js).
      const common = { accountId: ACCOUNT_ID, client, grantId, gty: 'authorization_code', scope: SCOPE };
      const at = new oidc.AccessToken({ ...common });
      const accessToken = await at.save();
      const rt = new oidc.RefreshToken({ ...common, authTime: Math.floor(Date.now() / 1000), rotations: 0 });
      const refreshToken = await rt.save();

      return { accessToken, refreshToken, expiresIn: at.expiration, tokenType: at.tokenType ?? 'Bearer', grantId, scope: SCOPE };
    },

    revokeGrant,

    async verifyAccessToken(token: string): Promise<boolean> {
      if (typeof token !== 'string' || token.length === 0) return false;
      const at = await oidc.AccessToken.find(token);
      if (!at) return false;
      // Tokens minted by a request that raced a grant revocation must not outlive the grant.
      return at.grantId ? (await oidc.Grant.find(at.grantId)) !== undefined : true;
    },

    onRefresh(listener: RefreshListener): () => void {
      events.on('refresh', listener);
      return () => {
        events.off('refresh', listener);
      };
    },

    close(): Promise<void> {
      closed ??= new Promise<void>((resolve, reject) => {
        httpServer.close((err) => (err ? reject(err) : resolve()));
        httpServer.closeAllConnections();
        events.removeAllListeners();
      });
      return closed;
    },
  };

  return server;
}
