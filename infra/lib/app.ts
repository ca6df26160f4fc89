// The app's composition, shared by bin/serverless-openclaw.ts and the tests: the settings from context,
// the one stack, and cdk-nag's AWS Solutions checks on everything (an unacknowledged finding fails
// the synth).

import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { settingsFromContext } from './settings.ts';
import { ServerlessOpenClawStack } from './stack.ts';

export function buildApp(app: App): ServerlessOpenClawStack {
  const settings = settingsFromContext(app.node);
  const stack = new ServerlessOpenClawStack(app, settings.stackName, {
    settings,
    description: 'serverless-openclaw: your OpenClaw agent on demand (web chat, WebSocket and REST APIs, agent on Lambda)',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stack;
}
