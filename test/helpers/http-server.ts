/**
 * A real HTTP server on 127.0.0.1 (random port) for download tests: serves bytes with
 * `Range`/`If-Range` and ETags, records every request, and injects faults (dropped or
 * stalled connections, error statuses, corrupted bytes, redirects, ignored ranges).
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** How a route answers. */
export interface Route {
  /** The bytes, or a file streamed from disk. */
  readonly body?: Uint8Array | { readonly file: string };
  /** Strong ETag to send and to match `If-Range` against; `false` sends none. Default `"v1"`. */
  readonly etag?: string | false;
  /** Whether `Range` is honoured (default true); false always answers 200 with everything. */
  readonly ranges?: boolean;
  /** Answer with this status for the first `times` requests (default: every request). */
  readonly status?: { readonly code: number; readonly times?: number; readonly headers?: Record<string, string> };
  /** Close the connection after sending this many body bytes, for the first `times` responses (default 1). */
  readonly drop?: { readonly afterBytes: number; readonly times?: number };
  /** Stop sending (without closing) after this many body bytes, for the first `times` responses (default 1). */
  readonly stall?: { readonly afterBytes: number; readonly times?: number };
  /** Redirect to this path or URL. */
  readonly redirect?: { readonly to: string; readonly status?: number };
  /** Flip the byte at this offset of the body (a corrupting proxy). */
  readonly corruptAt?: number;
  /** Send no Content-Length (chunked encoding). */
  readonly chunked?: boolean;
}

/** One request as the server saw it. */
export interface RequestLog {
  readonly path: string;
  readonly range: string | undefined;
  readonly ifRange: string | undefined;
  status: number;
  /** Body bytes written to the socket for this request. */
  bytesSent: number;
}

const CHUNK = 64 * 1024;

/** The test server. */
export class TestServer {
  readonly requests: RequestLog[] = [];
  readonly #routes = new Map<string, { route: Route; hits: number; drops: number; stalls: number }>();
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server) {
    this.#server = server;
    server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  /** Starts a server on 127.0.0.1 at a random port. */
  static async start(): Promise<TestServer> {
    const server = createServer();
    const t = new TestServer(server);
    server.on('request', (req, res) => void t.#handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return t;
  }

  /** The URL of a path on this server. */
  url(path: string): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}${path}`;
  }

  /** Sets (or replaces) what a path answers; its fault counters start again. */
  route(path: string, route: Route): string {
    this.#routes.set(path, { route, hits: 0, drops: 0, stalls: 0 });
    return this.url(path);
  }

  /** The requests made for a path. */
  requestsFor(path: string): RequestLog[] {
    return this.requests.filter((r) => r.path === path);
  }

  /** Body bytes sent for a path over all its requests. */
  bytesSent(path: string): number {
    return this.requestsFor(path).reduce((n, r) => n + r.bytesSent, 0);
  }

  /** Stops the server and cuts every open connection (stalled ones included). */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const log: RequestLog = { path, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined, status: 0, bytesSent: 0 };
    this.requests.push(log);
    const entry = this.#routes.get(path);
    const send = (status: number, headers: Record<string, string> = {}): void => {
      log.status = status;
      res.writeHead(status, headers).end();
    };
    if (entry === undefined) return send(404);
    const { route } = entry;
    entry.hits++;
    if (route.status !== undefined && entry.hits <= (route.status.times ?? Infinity)) return send(route.status.code, route.status.headers);
    if (route.redirect !== undefined) return send(route.redirect.status ?? 302, { location: route.redirect.to });
    if (route.body === undefined) return send(404);

    const size = route.body instanceof Uint8Array ? route.body.byteLength : statSync(route.body.file).size;
    const etag = route.etag ?? '"v1"';
    let start = 0;
    let status = 200;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'accept-ranges': route.ranges === false ? 'none' : 'bytes' };
    if (etag !== false) headers.etag = etag;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (m !== null && route.ranges !== false && (ifRange === undefined || ifRange === etag)) {
      start = Number(m[1]);
      if (start >= size) return send(416, { 'content-range': `bytes */${size}` });
      status = 206;
      headers['content-range'] = `bytes ${start}-${size - 1}/${size}`;
    }
    if (route.chunked !== true) headers['content-length'] = String(size - start);
    log.status = status;
    res.writeHead(status, headers);

    const drop = route.drop !== undefined && entry.drops < (route.drop.times ?? 1) ? route.drop.afterBytes : Infinity;
    const stall = route.stall !== undefined && entry.stalls < (route.stall.times ?? 1) ? route.stall.afterBytes : Infinity;
    const limit = Math.min(drop, stall);
    if (drop !== Infinity) entry.drops++;
    if (stall !== Infinity && stall <= drop) entry.stalls++;
    let closed = false;
    res.on('close', () => (closed = true));
    for await (const piece of this.#slices(route.body, start, size)) {
      if (closed) return;
      let chunk = piece.bytes;
      if (route.corruptAt !== undefined && route.corruptAt >= piece.offset && route.corruptAt < piece.offset + chunk.length) {
        chunk = Buffer.from(chunk);
        const i = route.corruptAt - piece.offset;
        chunk[i] = chunk[i]! ^ 0xff;
      }
      const room = limit - log.bytesSent;
      if (room <= 0) break;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      log.bytesSent += part.length;
      await new Promise<void>((r) => res.write(part, () => r()));
    }
    if (closed) return;
    if (log.bytesSent >= limit && limit === drop) {
      // Let the kernel deliver what was written, then cut the connection.
      setTimeout(() => res.socket?.destroy(), 20);
    } else if (log.bytesSent >= limit) {
      // Stalled: hold the connection open until the client gives up.
    } else {
      res.end();
    }
  }

  async *#slices(body: Uint8Array | { readonly file: string }, start: number, size: number): AsyncGenerator<{ offset: number; bytes: Buffer }> {
    if (body instanceof Uint8Array) {
      for (let o = start; o < size; o += CHUNK) yield { offset: o, bytes: Buffer.from(body.buffer, body.byteOffset + o, Math.min(CHUNK, size - o)) };
      return;
    }
    let offset = start;
    for await (const chunk of createReadStream(body.file, { start, highWaterMark: CHUNK })) {
      yield { offset, bytes: chunk as Buffer };
      offset += (chunk as Buffer).length;
    }
  }
}
