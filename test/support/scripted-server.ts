import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { type AddressInfo, type Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** The body parsed as application/x-www-form-urlencoded. */
  form: Record<string, string>;
}

/** Decides what the server does with one request; the body has already been read and recorded. */
export type ServerBehaviour = (req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest) => void;

/**
 * A node:http server on 127.0.0.1 for token endpoints and resource APIs alike, whose answer
 * is scripted per test: normal JSON, odd statuses, redirects, a reset connection, a hang, or
 * answers held until the test releases them. Records every request and counts connections.
 * Open sockets are tracked so a hung exchange can be torn down without waiting for a timeout.
 */
export class ScriptedServer {
  readonly requests: RecordedRequest[] = [];
  /** TCP connections accepted since start. */
  connections = 0;
  #behaviour: ServerBehaviour = (_req, res) => sendJson(res, 500, { error: 'server_error', error_description: 'no behaviour set' });
  readonly #sockets = new Set<Socket>();
  #waiters: ((request: RecordedRequest) => void)[] = [];
  /** Answers waiting for release(), while held. */
  #held: Array<() => void> | undefined;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {
    server.on('connection', (socket) => {
      this.connections++;
      this.#sockets.add(socket);
      // The client may drop the connection mid-response (size limit, abort): that is expected.
      socket.on('error', () => undefined);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    server.on('request', (req, res) => this.#onRequest(req, res));
  }

  /** Listens on a free port; `behaviour` answers every request until behave() replaces it. */
  static async start(behaviour?: ServerBehaviour): Promise<ScriptedServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const scripted = new ScriptedServer(server, (server.address() as AddressInfo).port);
    if (behaviour) scripted.behave(behaviour);
    return scripted;
  }

  /** `http://127.0.0.1:<port>` */
  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The path the tests treat as the token endpoint. */
  get tokenEndpoint(): string {
    return `${this.origin}/token`;
  }

  /** Sets how every following request is answered. */
  behave(behaviour: ServerBehaviour): void {
    this.#behaviour = behaviour;
  }

  /**
   * Answers every refresh_token grant like a rotating RFC 6749 token endpoint, after `delayMs`:
   * `at-N` / `rt-N` for the Nth request recorded since the last forget(), one hour. Anything
   * else gets 400 unsupported_grant_type.
   */
  answerRefreshGrants({ delayMs = 0 }: { delayMs?: number } = {}): void {
    this.behave((_req, res, recorded) => {
      if (recorded.method !== 'POST' || recorded.form.grant_type !== 'refresh_token') {
        sendJson(res, 400, { error: 'unsupported_grant_type' });
        return;
      }
      const n = this.requests.indexOf(recorded) + 1;
      const body = { access_token: `at-${n}`, refresh_token: `rt-${n}`, token_type: 'Bearer', expires_in: 3600 };
      setTimeout(() => sendJson(res, 200, body, { 'Cache-Control': 'no-store' }), delayMs);
    });
  }

  /** From now on, answers wait until release(). */
  hold(): void {
    this.#held ??= [];
  }

  /** Sends the held answers and stops holding. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const answer of held) answer();
  }

  /** Resolves with the next request once its body has been read (before it is answered). */
  nextRequest(): Promise<RecordedRequest> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Forgets recorded requests; open connections stay. */
  forget(): void {
    this.requests.length = 0;
  }

  /** Forgets recorded requests and kills open connections (hung exchanges included). */
  reset(): void {
    this.forget();
    this.#waiters = [];
    this.destroySockets();
  }

  destroySockets(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  async close(): Promise<void> {
    this.#held = undefined;
    this.destroySockets();
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawBody,
        form: Object.fromEntries(new URLSearchParams(rawBody)),
      };
      this.requests.push(recorded);
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const resolve of waiters) resolve(recorded);
      res.on('error', () => undefined);
      const behaviour = this.#behaviour;
      const answer = (): void => behaviour(req, res, recorded);
      if (this.#held) this.#held.push(answer);
      else answer();
    });
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A connection-refused target: a port that was just listened on and released. */
export async function closedPortOrigin(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
