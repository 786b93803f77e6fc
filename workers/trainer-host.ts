/**
 * Entry file of the thread that spawnTrainer starts: it exposes the Trainer class over comlink, and the
 * main side constructs one with `new`.
 */
import { parentPort } from 'node:worker_threads';
import { expose } from 'comlink';
import { nodeEndpoint } from '../src/engine/comlink-endpoint.js';
import { Trainer } from '../src/api.js';

expose(Trainer, nodeEndpoint(parentPort!));
