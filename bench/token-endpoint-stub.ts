/**
 * A minimal RFC 6749 token endpoint on 127.0.0.1 for the side-by-side runs over HTTP: answers
 * every refresh_token grant with a rotated pair after `delayMs`, or holds every answer until
 * release() while `held`. Counts requests. Used for both this module's HttpOAuthClient and
 * google-auth-library's OAuth2Client, so both face the same server.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';

export class StubTokenEndpoint {
  requests = 0;
  delayMs = 5;
  #held: Array<() => void> | undefined;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {
    server.on('request', (req, res) => this.#onRequest(req, res));
  }

  static async start(): Promise<StubTokenEndpoint> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new StubTokenEndpoint(server, (server.address() as AddressInfo).port);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/token`;
  }

  reset(): void {
    this.requests = 0;
  }

  /** From now on, answers wait until release(). */
  hold(): void {
    this.#held ??= [];
  }

  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const answer of held) answer();
  }

  async close(): Promise<void> {
    this.release();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      if (req.method !== 'POST' || form.get('grant_type') !== 'refresh_token') {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unsupported_grant_type' }));
        return;
      }
      const n = ++this.requests;
      const answer = (): void => {
        res
          .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          .end(JSON.stringify({ access_token: `at-${n}`, refresh_token: `rt-${n}`, token_type: 'Bearer', expires_in: 3600 }));
      };
      if (this.#held) this.#held.push(answer);
      else setTimeout(answer, this.delayMs);
    });
  }
}
