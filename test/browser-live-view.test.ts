import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { launchChromium, SCREENSHOTS, watchPage } from './helpers/browser.js';
import { CLI } from './helpers/cli.js';

/**
 * `train --serve` with the page open in a real Chromium: the live curves gain one point per epoch, pushed
 * by server-sent events while the run trains.
 */

const EPOCHS = 4;
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
const child = spawn(process.execPath, [CLI, 'train', '--model', 'cnn-small', '--epochs', String(EPOCHS), '--train-size', '4000', '--val-size', '1000',
  '--workers', '1', '--no-out', '--json', '--serve', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
let stderr = '';
child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

afterAll(async () => {
  await browser?.close();
  if (child.exitCode === null) child.kill('SIGKILL');
});

describe('train --serve', () => {
  it('the open page shows the run\'s curves gaining a point per epoch, then the test accuracy', async () => {
    const url = await new Promise<string>((resolve, reject) => {
      const look = () => {
        const m = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr);
        if (m) resolve(m[1]);
      };
      child.stderr.on('data', look);
      look();
      void exited.then(() => reject(new Error(`train --serve exited early: ${stderr}`)));
    });
    browser = await launchChromium();
    const page = await browser.context.newPage();
    const watched = watchPage(page, (u) => u.startsWith(url));
    // Record every value the page gives its point count, from before its own script runs.
    await page.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { pointsSeen: string[] }).pointsSeen = seen;
      new MutationObserver((changes) => {
        for (const c of changes) {
          const v = (c.target as HTMLElement).dataset.points;
          if (v !== undefined && v !== seen[seen.length - 1]) seen.push(v);
        }
      }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-points'] });
    });
    await page.goto(url);
    await page.waitForFunction(() => /finished/.test(document.getElementById('live-status')!.textContent ?? ''), undefined, { timeout: 100_000 });

    const seen = (await page.evaluate(() => (window as unknown as { pointsSeen: string[] }).pointsSeen)).map(Number).filter((n) => n > 0);
    // At least three epochs arrived while the page was open, each adding exactly one point.
    expect(seen.length, `points seen: ${seen.join(', ')}`).toBeGreaterThanOrEqual(3);
    expect(seen.at(-1)).toBe(EPOCHS);
    seen.slice(1).forEach((n, i) => expect(n).toBe(seen[i] + 1));
    // The loss chart has a dot per epoch for training and for validation; the accuracy chart one per epoch.
    expect(await page.locator('[data-chart="loss"] svg .mark-symbol.role-mark path').count()).toBe(2 * EPOCHS);
    expect(await page.locator('[data-chart="validation-accuracy"] svg .mark-symbol.role-mark path').count()).toBe(EPOCHS);
    expect(await page.textContent('#live-status')).toMatch(/finished: 4 of 4 epochs · validation accuracy \d+\.\d\d % · test accuracy \d+\.\d\d %/);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'serve-live.png'), fullPage: true });
    expect(watched.problems).toEqual([]);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/training done; its curves stay at http:\/\/127\.0\.0\.1:\d+\/ until Ctrl-C\nmnist-dp: server stopped\n$/);
  });
});
