// Tests run inside workerd (the Workers runtime) through
// @cloudflare/vitest-pool-workers, with the bindings of wrangler.jsonc plus
// test-only vars: the deterministic local provider, no per-key write spacing,
// and the /__process trigger enabled.
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest({
      main: "./src/index.ts",
      wrangler: { configPath: "./wrangler.jsonc" },
      miniflare: {
        bindings: {
          AI_PROVIDER: "local",
          AI_BASE_URL: "http://ai.invalid/v1",
          KV_MIN_WRITE_INTERVAL_MS: "0",
          PROCESS_SECRET: "test-process-secret",
          MAX_PAGES_PER_RUN: "50",
          AI_RETRIES: "0",
          // The old in-cron path for the processor suites; test/fanout.test.ts
          // runs the queue path with FANOUT "queues" and its own producer.
          FANOUT: "cron",
        },
      },
    }),
  ],
  server: { fs: { allow: [".."] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30000,
  },
});
