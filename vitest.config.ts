import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Training tests start worker pools of their own; running test files one after another keeps the
    // 2-core CI machine from being oversubscribed.
    fileParallelism: false,
  },
});
