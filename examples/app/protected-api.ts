import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { HOST } from './config';

export interface ProtectedApiOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Whether a bearer token is valid now, e.g. the authorization server's verifyAccessToken. */
  verify: (token: string) => Promise<boolean>;
}

export interface ProtectedApi {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Live counters: requests served and requests refused for want of a valid token. */
  readonly stats: { served: number; rejected: number };
  close(): Promise<void>;
}

/**
 * The resource server of the example: `GET /data` answers only to a valid bearer token
 * (RFC 6750), anything else gets 401 with a WWW-Authenticate challenge. Plain node:http, so
 * the example shows the client side only.
 */
export async function startProtectedApi(options: ProtectedApiOptions): Promise<ProtectedApi> {
  const stats = { served: 0, rejected: 0 };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://placeholder').pathname;
    if (req.method !== 'GET' || path !== '/data') return send(res, 404, { error: 'not_found' });
    const token = bearerToken(req.headers.authorization);
    if (token === undefined || !(await options.verify(token))) {
      stats.rejected++;
      res.setHeader('WWW-Authenticate', token === undefined ? 'Bearer' : 'Bearer error="invalid_token"');
      return send(res, 401, { error: token === undefined ? 'missing_token' : 'invalid_token' });
    }
    stats.served++;
    send(res, 200, { message: 'Hello from the protected API', served: stats.served, at: new Date().toISOString() });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, 500, { error: 'server_error' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${HOST}:${port}`,
    port,
    stats,
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/** The token of `Authorization: Bearer <token>` (scheme case-insensitive), else undefined. */
function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer +([^ ]+) *$/i.exec(header ?? '');
  return match?.[1];
}

function send(res: ServerResponse, status: number, body: object): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}
