// The web sign-in against moto's Cognito (src/**/*.moto.test.ts), kept out of `npm test`: it needs the
// pools and users that crates/testkit/tests/web_cognito.rs creates on moto and passes in
// SERVERLESS_OPENCLAW_MOTO_COGNITO (`cargo test -p serverless-openclaw-testkit --test web_cognito`).

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'node',
    include: ['src/**/*.moto.test.ts'],
    // A TOTP step can make a test wait for the next 30 s window.
    testTimeout: 60_000,
  },
});
