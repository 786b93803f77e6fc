import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * Debian's Chromium driven by playwright-core (which never downloads a browser). The flags keep it off the
 * network and away from the GPU; a fresh profile folder per launch. A machine without /usr/bin/chromium fails the
 * browser tests with a message, rather than skipping them.
 */

export const CHROMIUM = process.env.MNIST_DP_CHROMIUM ?? '/usr/bin/chromium';

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic', '--disable-dev-shm-usage',
];

/** Where the tests put their screenshots (not committed; copies of one of each are in docs/). */
export const SCREENSHOTS = join(import.meta.dirname, '..', 'screenshots');

/** A fresh headless Chromium (a new profile folder, removed on close). */
export async function launchChromium(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the browser tests need Debian's Chromium; install it with "apt-get install -y chromium" (.ci/run does), or set MNIST_DP_CHROMIUM to a Chromium binary`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'mnist-dp-chromium-'));
  // Playwright takes the profile folder itself (it refuses --user-data-dir among the flags).
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: FLAGS, timeout: 60_000, viewport: { width: 1200, height: 900 } });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Every console error and failed or outside request a page makes, for assertions. */
export function watchPage(page: Page, allowed: (url: string) => boolean) {
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    requests.push(r.url());
    if (!allowed(r.url())) problems.push(`request outside: ${r.url()}`);
  });
  page.on('requestfailed', (r) => problems.push(`failed request: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  return { problems, requests };
}
