// The CDK app (`cdk synth`, `cdk deploy`; see docs/deployment.md). Settings come from context
// (cdk.json, `-c key=value`). SERVERLESS_OPENCLAW_SKIP_BUNDLING=1 skips the Rust builds, so the
// template can be synthesized without cargo-lambda or Docker (`make test-infra`); the CLI refuses
// `-c aws:cdk:...`, hence the variable.

import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app.ts';

const app = new App();
if (process.env.SERVERLESS_OPENCLAW_SKIP_BUNDLING === '1') {
  app.node.setContext('aws:cdk:bundling-stacks', []);
}
buildApp(app);
