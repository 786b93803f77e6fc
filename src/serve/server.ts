import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeInkPng } from '../data/digit-image.js';
import { badOption, MnistDpError } from '../errors.js';
import type { Model } from '../model/model.js';
import { defaultPrep, predictPicture } from '../model/predict-picture.js';
import { ttaImageShape } from '../model/tta.js';
import { LiveView, type LiveState } from './live.js';

/**
 * `mnist-dp serve`: a page to draw a digit on and watch the model read it, and the live curves of a
 * training run. node:http alone; the routes:
 *
 *   GET  /            the page (static files from src/serve/public only)
 *   POST /predict     body: a PNG (Content-Type image/png); answer: JSON (PredictAnswer), or {"error"} with a 4xx
 *   GET  /events      server-sent events: `run` (LiveState) on connecting and after every epoch
 *   GET  /run         the LiveState now, as JSON
 */

/** The largest request body read (a drawing on the page's canvas is 5-30 KB). */
export const MAX_BODY_BYTES = 1 << 20;

/** The answer of POST /predict. */
export interface PredictAnswer {
  digit: number;
  probability: number;
  /** One per class, summing to 1. */
  probabilities: number[];
  /** The image the model read: `height × width` ink values in [0, 1] (0 is background), row-major. */
  image: { width: number; height: number; pixels: number[] };
}

export interface ServeOptions {
  /** The model that reads the drawings. */
  model: Model;
  /** Its file, for messages. */
  modelFile: string;
  /** The address to listen on: 127.0.0.1 unless told otherwise. */
  host?: string;
  /** The port; 0 picks a free one. */
  port?: number;
  /** A checkpoint whose run the live view shows, read again whenever it changes. */
  watch?: string | null;
}

export interface DigitServer {
  /** Where the page is: `http://127.0.0.1:PORT/`. */
  url: string;
  port: number;
  /** Feed it training events (train --serve) to show that run live. */
  live: LiveView;
  /** Stops listening, ends open connections (the event streams) and the watch. */
  close(): Promise<void>;
}

/** The page's own folder: static files are served from here and nowhere else. */
const PUBLIC_DIR = (() => {
  const here = fileURLToPath(import.meta.url);
  // From src/serve/server.ts (vitest) the folder is beside it; from dist/src/serve/server.js it is in src/, which the package ships.
  return here.endsWith('.ts') ? join(dirname(here), 'public') : resolve(dirname(here), '../../../src/serve/public');
})();

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.png': 'image/png', '.svg': 'image/svg+xml', '.ico': 'image/x-icon',
};

const SECURITY_HEADERS = {
  // The page loads only its own files; the live charts are SVG inserted by the page, the preview a canvas.
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'",
  'X-Content-Type-Options': 'nosniff',
};

/** An error answered as `{"error": message}` with a 4xx status. */
class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...SECURITY_HEADERS });
  res.end(text);
}

/** The request's body, at most MAX_BODY_BYTES: a larger one is refused as soon as its size is known. */
function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const tooLarge = () => new HttpError(413, `the body is larger than ${MAX_BODY_BYTES.toLocaleString('en-US')} bytes; send a smaller PNG`);
  if (declared > MAX_BODY_BYTES) return Promise.reject(tooLarge());
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        reject(tooLarge());
      } else chunks.push(chunk);
    });
    req.on('end', () => resolveBody(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The files of the page, read once at start: a request names one of these or gets 404 (no path reaches elsewhere). */
function loadStaticFiles(): Map<string, { type: string; body: Buffer }> {
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const name of readdirSync(PUBLIC_DIR)) {
    const type = CONTENT_TYPES[extname(name)];
    if (type) files.set(`/${name}`, { type, body: readFileSync(join(PUBLIC_DIR, name)) });
  }
  files.set('/', files.get('/index.html')!);
  return files;
}

/** Starts the server and resolves once it listens. Throws BAD_OPTION when the port is taken or the host unknown. */
export async function startServer(o: ServeOptions): Promise<DigitServer> {
  const files = loadStaticFiles();
  const what = `serve with ${o.modelFile}`;
  ttaImageShape(o.model.spec, what); // a model that reads no square picture is refused at start, not at the first drawing
  const prep = defaultPrep(o.model); // as predict prepares pictures for this model
  const live = new LiveView();
  if (o.watch) await live.watch(o.watch);
  const streams = new Set<ServerResponse>();

  function predict(body: Buffer): PredictAnswer {
    const name = 'the picture';
    let ink;
    try {
      ink = decodeInkPng(body, name); // checks the header's size before decoding
    } catch (err) {
      throw new HttpError(400, (err as Error).message);
    }
    try {
      const p = predictPicture(o.model, ink, name, { prep, what });
      return {
        digit: p.digit, probability: p.probability, probabilities: p.probabilities,
        image: { width: p.width, height: p.height, pixels: Array.from(p.image, (v) => Math.round(v * 1000) / 1000) },
      };
    } catch (err) {
      if (err instanceof MnistDpError) throw new HttpError(422, err.message); // no ink: nothing drawn yet
      throw err;
    }
  }

  function events(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', ...SECURITY_HEADERS });
    const send = (s: LiveState) => res.write(`event: run\ndata: ${JSON.stringify(s)}\n\n`);
    send(live.current());
    const stop = live.subscribe(send);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    streams.add(res);
    req.on('close', () => {
      stop();
      clearInterval(keepAlive);
      streams.delete(res);
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/predict') {
      if (req.method !== 'POST') throw new HttpError(405, 'POST a PNG to /predict');
      const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (type !== 'image/png') throw new HttpError(415, `send the drawing as PNG with Content-Type image/png (got ${type || 'none'})`);
      sendJson(res, 200, predict(await readBody(req)));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} is not served here; GET the page or POST /predict`);
    if (path === '/events') return events(req, res);
    if (path === '/run') return sendJson(res, 200, live.current());
    const file = files.get(path);
    if (!file) throw new HttpError(404, `${path} is not here: the page is at /`);
    res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.body.length, 'Cache-Control': 'no-cache', ...SECURITY_HEADERS });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof HttpError ? err.message : `the server failed: ${(err as Error).message}`;
      if (res.headersSent) return void res.end();
      // A refused body is not kept: answer and close the connection, discarding what still arrives for a
      // moment (so that the client reads the answer rather than a reset), then drop it.
      if (status === 413) res.setHeader('Connection', 'close');
      sendJson(res, status, { error: message });
      if (status === 413) {
        res.on('finish', () => {
          req.resume();
          setTimeout(() => req.destroy(), 2000).unref();
        });
      }
    });
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      live.close();
      if (err.code === 'EADDRINUSE') reject(badOption(`--port ${o.port}: the port is in use; give another, or --port 0 for any free one`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(badOption(`--host ${host}: not an address of this machine (${err.code})`));
      else if (err.code === 'EACCES') reject(badOption(`--port ${o.port}: not allowed here (${err.code}); use a port above 1023`));
      else reject(err);
    });
    server.listen(o.port ?? 8080, host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    live,
    async close() {
      live.close();
      for (const res of streams) res.end();
      await new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      });
    },
  };
}
