import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // The real-model tests run HTDemucs windows at several seconds each on a 2-core machine.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // One model session at a time: running real-model files in parallel on two cores only
    // multiplies memory without saving time.
    fileParallelism: false,
    pool: 'forks',
  },
});
