import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultMnistDir, loadIdxDataset, type Dataset } from '../src/data/dataset.js';
import { decodeInkPng } from '../src/data/digit-image.js';
import { loadModel } from '../src/checkpoint.js';
import { shippedModelFile, type Model } from '../src/model/model.js';
import { predictPicture } from '../src/model/predict-picture.js';
import { MAX_BODY_BYTES, startServer, type DigitServer } from '../src/serve/server.js';
import { CLI, runCli } from './helpers/cli.js';
import { digitPng, hugePngHeader } from './helpers/pictures.js';

/**
 * The server of `mnist-dp serve` without a browser: POST /predict answers what `predict` would, and every
 * kind of bad request gets a 4xx with a message while the server keeps serving; files outside the page's
 * folder cannot be reached; it binds 127.0.0.1 and stops cleanly on SIGINT and SIGTERM.
 */

let server: DigitServer;
let model: Model;
let test: Dataset;

beforeAll(async () => {
  model = await loadModel(shippedModelFile());
  test = (await loadIdxDataset(defaultMnistDir())).test;
  server = await startServer({ model, modelFile: shippedModelFile(), port: 0 });
});

afterAll(async () => {
  await server?.close();
});

/** A raw request (the path is sent exactly as given, not normalised as fetch would). */
function send(method: string, path: string, body?: Buffer, headers: Record<string, string | number> = {}) {
  return new Promise<{ status: number; type: string; text: string; ms: number }>((resolve, reject) => {
    const started = performance.now();
    const req = request({ host: '127.0.0.1', port: server.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const postPng = (body: Buffer, type = 'image/png') => send('POST', '/predict', body, { 'Content-Type': type, 'Content-Length': body.length });

describe('POST /predict', () => {
  it('answers the digit, ten probabilities and the 28×28 image, exactly as the predict path computes them', async () => {
    for (const n of [0, 1, 2]) {
      const png = digitPng(test, n, 3);
      const r = await postPng(png);
      expect(r.status).toBe(200);
      expect(r.type).toMatch(/^application\/json/);
      const answer = JSON.parse(r.text);
      const expected = predictPicture(model, decodeInkPng(png, 'x'), 'x', { prep: 'digit' });
      expect(answer.digit).toBe(test.labels[n]);
      expect(answer.digit).toBe(expected.digit);
      expect(answer.probabilities).toEqual(expected.probabilities);
      expect(answer.image.width * answer.image.height).toBe(784);
      expect(answer.image.pixels).toEqual(Array.from(expected.image, (v) => Math.round(v * 1000) / 1000));
    }
  });

  it('a body that is not a PNG, a PNG sent as another type, and a blank drawing each get a 4xx with a message', async () => {
    const notPng = await postPng(Buffer.from('hello, not a picture'));
    expect(notPng.status).toBe(400);
    expect(JSON.parse(notPng.text).error).toMatch(/is not a readable PNG image/);
    const wrongType = await postPng(digitPng(test, 0, 1), 'text/plain');
    expect(wrongType.status).toBe(415);
    expect(JSON.parse(wrongType.text).error).toMatch(/Content-Type image\/png/);
    const blank = new PNG({ width: 50, height: 50 });
    blank.data.fill(255);
    const empty = await postPng(PNG.sync.write(blank));
    expect(empty.status).toBe(422);
    expect(JSON.parse(empty.text).error).toMatch(/has no ink/);
  });

  it('a 100,000 × 100,000 PNG header is refused at once, from its IHDR chunk, without decoding', async () => {
    const before = process.memoryUsage().rss;
    const r = await postPng(hugePngHeader(100_000, 100_000));
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error).toMatch(/is a PNG of 100,000×100,000 pixels; pictures of at most 16,777,216 pixels \(4096×4096\) are read/);
    expect(r.ms).toBeLessThan(1000);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 2 ** 20);
  });

  it('a body over the size limit is refused with 413, declared or sent in chunks', async () => {
    const big = Buffer.alloc(MAX_BODY_BYTES + 1, 1);
    const declared = await postPng(big);
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.text).error).toMatch(/larger than 1,048,576 bytes/);
    const chunked = await send('POST', '/predict', big, { 'Content-Type': 'image/png', 'Transfer-Encoding': 'chunked' });
    expect(chunked.status).toBe(413);
  });

  it('GET /predict and other methods get 405', async () => {
    expect((await send('GET', '/predict')).status).toBe(405);
    expect((await send('DELETE', '/')).status).toBe(405);
  });
});

describe('static files', () => {
  it('serves the page and its files, and nothing outside its folder, however the path is spelled', async () => {
    const page = await send('GET', '/');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<canvas id="pad"');
    expect((await send('GET', '/page.js')).status).toBe(200);
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/..%5cpackage.json', '//etc/passwd',
      '/../../../../etc/passwd', '/server.ts', '/../server.ts', '/public/index.html', '/index.html%00.js', '/.']) {
      const r = await send('GET', path);
      expect(r.status, path).toBe(404);
      expect(r.text, path).not.toMatch(/"name": "mnist-dp"|root:|import /);
    }
  });

  it('keeps serving after the bad requests: the page and a prediction still work', async () => {
    expect((await send('GET', '/')).status).toBe(200);
    const r = await postPng(digitPng(test, 3, 2));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text).digit).toBe(test.labels[3]);
  });

  it('listens on 127.0.0.1 unless told otherwise', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
  });
});

describe('mnist-dp serve', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`prints its URL and stops cleanly on ${signal}`, async () => {
      const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', () => {
          const m = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr);
          if (m) resolve(m[1]);
        });
        child.on('exit', () => reject(new Error(`serve exited early: ${stderr}`)));
      });
      expect((await fetch(url)).status).toBe(200);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill(signal);
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/server stopped\n$/);
    });
  }

  it('a bad port, a taken port and a missing model each get one line', async () => {
    const bad = runCli('.', ['serve', '--port', '70000']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('mnist-dp: error: --port must be a whole number from 0 to 65535, got 70000\n');
    const taken = runCli('.', ['serve', '--port', String(server.port)]);
    expect(taken.code).toBe(2);
    expect(taken.stderr).toBe(`mnist-dp: error: --port ${server.port}: the port is in use; give another, or --port 0 for any free one\n`);
    const missing = runCli('.', ['serve', '--model', 'no-such.ckpt', '--port', '0']);
    expect(missing.code).toBe(1);
    expect(missing.lines).toHaveLength(1);
    expect(missing.stderr).toMatch(/^mnist-dp: error: no-such\.ckpt: cannot be read/);
  });
});
