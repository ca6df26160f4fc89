// Build of the chat page. The Rust server serves dist/ at `/` (index.html, then assets/...); relative asset
// URLs also keep the page working under a path prefix behind CloudFront.
// `npm run dev` forwards /api, /ws and /config.json to a running server named by SERVERLESS_OPENCLAW_DEV_SERVER.

import react from '@vitejs/plugin-react';
import { loadEnv } from 'vite';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig(({ mode }) => {
  const devServer = loadEnv(mode, '.', 'SERVERLESS_OPENCLAW_').SERVERLESS_OPENCLAW_DEV_SERVER;
  return {
    base: './',
    plugins: [react()],
    // amazon-cognito-identity-js bundles the `buffer` package, which reads Node's `global` unguarded;
    // in the browser that is globalThis.
    define: { global: 'globalThis' },
    build: {
      outDir: 'dist',
      emptyOutDir: true,
    },
    server: devServer
      ? {
          proxy: {
            '/api': devServer,
            '/config.json': devServer,
            '/ws': { target: devServer, ws: true },
          },
        }
      : {},
    test: {
      environment: 'node',
      include: ['src/**/*.test.{ts,tsx}'],
      // Tests against moto's Cognito run from cargo test with their fixture (vitest.moto.config.ts).
      exclude: [...configDefaults.exclude, 'src/**/*.moto.test.ts'],
    },
  };
});
