// Test harness: the real app composition (lib/app.ts) with bundling skipped, synthesized once per
// context, plus small helpers to find our resources in the template.

import { App, type CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { buildApp } from '../lib/app.ts';
import type { ServerlessOpenClawStack } from '../lib/stack.ts';

export interface Synthesized {
  readonly app: App;
  readonly stack: ServerlessOpenClawStack;
  readonly template: Template;
}

const cache = new Map<string, Synthesized>();

export function synthesize(context: Record<string, string> = {}): Synthesized {
  const key = JSON.stringify(context);
  let synthesized = cache.get(key);
  if (synthesized === undefined) {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
    const stack = buildApp(app);
    synthesized = { app, stack, template: Template.fromStack(stack) };
    cache.set(key, synthesized);
  }
  return synthesized;
}

/** The logical id of a construct's CloudFormation resource. */
export function logicalId(construct: IConstruct): string {
  const stack = Stack.of(construct);
  return stack.resolve(stack.getLogicalId(construct.node.defaultChild as CfnResource)) as string;
}

export type Resource = { Type: string; Properties?: Record<string, unknown>; [key: string]: unknown };

export function resources(template: Template): Record<string, Resource> {
  return template.toJSON().Resources as Record<string, Resource>;
}
