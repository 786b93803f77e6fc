import { Redis } from 'ioredis';
import { badOption, MnistDpError } from '../errors.js';

/**
 * One Redis connection per process for the queue (BullMQ duplicates it where it needs a blocking one),
 * the results log and the checkpoint store. Reaching Redis at start is checked within a few seconds and
 * reported in one line; once connected, a lost connection is retried for ever (a Redis restart mid-sweep
 * is waited out), and BullMQ carries on where it was.
 */

/** How long the first connection may take before `--queue` is reported unreachable. */
const FIRST_CONNECT_MS = 3000;

export async function connectRedis(url: string, log: (line: string) => void = () => {}): Promise<Redis> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badOption(`--queue "${url}" is not an address such as redis://HOST:6379`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw badOption(`--queue "${url}" is not an address such as redis://HOST:6379`);
  let connected = false;
  let down = false;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 0, // ioredis' own timer outlives a refused connection by its whole length; ours below does not
    maxRetriesPerRequest: null, // BullMQ's requirement: commands wait for the connection instead of failing
    retryStrategy: (times) => (connected ? Math.min(100 * times, 2000) : null),
  });
  let firstError: NodeJS.ErrnoException | null = null;
  redis.on('error', (err: NodeJS.ErrnoException) => {
    firstError ??= err;
    if (connected && !down) log(`lost Redis at ${url} (${err.code ?? err.message}); reconnecting`);
    if (connected) down = true;
  });
  redis.on('ready', () => {
    if (down) log(`reconnected to Redis at ${url}`);
    down = false;
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })), FIRST_CONNECT_MS);
  });
  try {
    await Promise.race([redis.connect(), timeout]);
  } catch (err) {
    if (redis.status !== 'end') redis.disconnect(); // (a refused connection has ended already; disconnect() would hold the process 2 s)
    // connect() rejects with "Connection is closed"; the socket's own error says why (ECONNREFUSED, ENOTFOUND, ETIMEDOUT).
    const cause = (firstError ?? err) as NodeJS.ErrnoException;
    const why = cause.code ?? (/RESP/.test(cause.message) ? 'something answers there, but not as Redis' : cause.message);
    throw new MnistDpError('UNREACHABLE', `cannot reach Redis at ${url} (${why}); start redis-server there (Debian: apt-get install redis-server) or give --queue the right address`);
  } finally {
    clearTimeout(timer);
  }
  connected = true;
  return redis;
}
