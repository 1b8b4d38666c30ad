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
export type FaultBehaviour = (req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest) => void;

/**
 * A node:http server on 127.0.0.1 whose answer is set per test: normal JSON, odd statuses,
 * a reset connection, or nothing at all (a hang). Records every request. Open sockets are
 * tracked so a hung exchange can be torn down without waiting for any timeout.
 */
export class FaultServer {
  readonly requests: RecordedRequest[] = [];
  #behaviour: FaultBehaviour = (_req, res) => sendJson(res, 500, { error: 'server_error', error_description: 'no behaviour set' });
  readonly #sockets = new Set<Socket>();
  #waiters: ((request: RecordedRequest) => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      // The client may drop the connection mid-response (size limit, abort): that is expected.
      socket.on('error', () => undefined);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    server.on('request', (req, res) => this.#onRequest(req, res));
  }

  static async start(): Promise<FaultServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new FaultServer(server, (server.address() as AddressInfo).port);
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The path the tests treat as the token endpoint. */
  get tokenEndpoint(): string {
    return `${this.origin}/token`;
  }

  /** Sets how every following request is answered. */
  behave(behaviour: FaultBehaviour): void {
    this.#behaviour = behaviour;
  }

  /** Resolves with the next request once its body has been read (before it is answered). */
  nextRequest(): Promise<RecordedRequest> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Forgets recorded requests and kills open connections (hung exchanges included). */
  reset(): void {
    this.requests.length = 0;
    this.#waiters = [];
    this.destroySockets();
  }

  destroySockets(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  async close(): Promise<void> {
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
      this.#behaviour(req, res, recorded);
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
