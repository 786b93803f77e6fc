/**
 * One thread of the barrier micro-benchmark (bench/scaling.ts): meets the other threads at the step
 * barrier `rounds` times with no work in between and reports the mean µs per barrier.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { arriveAndWait } from '../src/engine/barrier.js';

const { control, parties, rounds, spinMicros } = workerData as { control: Int32Array; parties: number; rounds: number; spinMicros: number };
const words = { arrived: 0, generation: 1, status: 2 };
for (let i = 0; i < 100; i++) arriveAndWait(control, words, parties, spinMicros); // warm-up
const t0 = performance.now();
for (let i = 0; i < rounds; i++) arriveAndWait(control, words, parties, spinMicros);
parentPort!.postMessage(((performance.now() - t0) * 1000) / rounds);
