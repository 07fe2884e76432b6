import { defineConfig } from 'vitest/config';

// Three tiers (see README, "Tests"): scripts/test.mjs runs unit and kvm on
// this host, and e2e either here (when this host's KVM runs stock kernels) or
// inside the emulated KVM host (`npm run kvm-host`).
export default defineConfig({
  test: {
    projects: [
      // Each unit test file gets a capacity pool of its own (test/helpers/capacity-pool.ts).
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 30_000, setupFiles: ['test/helpers/capacity-pool.ts'] } },
      { test: { name: 'kvm', include: ['test/kvm/**/*.test.ts'], testTimeout: 60_000 } },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // Inside the emulated host everything is emulated: correctness only.
          // scripts/test.mjs runs the kvm and e2e tiers one file at a time.
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
