import type { Argv } from 'yargs';
import { badOption } from '../errors.js';
import { loadModel } from '../checkpoint.js';
import { shippedModelFile } from '../model/model.js';
import { startServer, type DigitServer } from '../serve/server.js';

/** `mnist-dp serve`: the draw page (and with --watch a run's live curves) until Ctrl-C or SIGTERM. */

export const DEFAULT_PORT = 8080;

export function serveBuilder(y: Argv): Argv {
  return y
    .usage('$0 serve [--model FILE] [--port N] [--host H] [--watch RUN.ckpt]\n\nA local web page: draw a digit and watch the model read it ' +
      '(POST /predict with a PNG body answers JSON for other programs too); with --watch, a training run\'s curves, updated each epoch.')
    .option('model', { type: 'string', requiresArg: true, describe: 'checkpoint that reads the drawings', defaultDescription: 'the shipped models/mnist-best.ckpt' })
    .option('port', { type: 'number', requiresArg: true, describe: 'port to listen on (0: any free one)', defaultDescription: String(DEFAULT_PORT) })
    .option('host', { type: 'string', requiresArg: true, describe: 'address to listen on (0.0.0.0: every interface, reachable by others)', defaultDescription: '127.0.0.1 (this machine only)' })
    .option('watch', { type: 'string', requiresArg: true, describe: 'a checkpoint being trained: show its curves, read again whenever it is rewritten' });
}

export interface ServeArgs {
  model?: string;
  port?: number;
  host?: string;
  watch?: string;
}

/** The port flag checked: a whole number from 0 to 65535. */
export function portOption(value: unknown, flag = '--port'): number {
  if (value === undefined) return DEFAULT_PORT;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw badOption(`${flag} must be a whole number from 0 to 65535, got ${String(value)}`);
  }
  return value;
}

/** Starts the server of the draw page with the shipped model (or `modelFile`) and says where it is on stderr. */
export async function serveDrawPage(o: { modelFile?: string; port: number; host?: string; watch?: string }): Promise<DigitServer> {
  const modelFile = o.modelFile ?? shippedModelFile();
  const server = await startServer({ model: await loadModel(modelFile), modelFile, port: o.port, host: o.host, watch: o.watch ?? null });
  const exposed = o.host !== undefined && !['127.0.0.1', 'localhost', '::1'].includes(o.host);
  process.stderr.write(`mnist-dp: serving the draw page${o.watch ? ` and ${o.watch}'s curves` : ''} at ${server.url}` +
    `${exposed ? ` (on ${o.host}: anyone who can reach this machine can use it)` : ''}\n`);
  return server;
}

/** Resolves on the first SIGINT or SIGTERM, after stopping the server. */
export function closeOnSignal(server: DigitServer): Promise<void> {
  return new Promise((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void server.close().then(() => {
        process.stderr.write('mnist-dp: server stopped\n');
        done();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export async function serveHandler(argv: ServeArgs): Promise<void> {
  const port = portOption(argv.port);
  const server = await serveDrawPage({ modelFile: argv.model, port, host: argv.host, watch: argv.watch });
  await closeOnSignal(server);
}
