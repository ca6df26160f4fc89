// cdk-nag's AWS Solutions checks over the whole app: no unacknowledged finding, and every
// acknowledgement sits on one construct (never the stack or app) with its reason.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { synthesize } from './synth.ts';

function acknowledgements(root: IConstruct): Array<{ path: string; id: string; reason: string; scope: IConstruct }> {
  return root.node.findAll().flatMap((scope) =>
    scope.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: scope.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
          scope,
        })),
      ),
  );
}

describe('cdk-nag AwsSolutionsChecks', () => {
  const { app } = synthesize();

  it('finds nothing unacknowledged in the app', () => {
    const report = new AwsSolutionsChecks(app).validateScope(app);
    assert.deepEqual(
      report.violations.map(
        (violation) => `${violation.ruleName} at ${violation.violatingResources.map((r) => r.constructPath).join(', ')}`,
      ),
      [],
    );
    assert.equal(report.success, true);
  });

  it('would report a finding (the checks are live)', () => {
    const other = new App();
    new Bucket(new Stack(other, 'Bare'), 'Bucket');
    const report = new AwsSolutionsChecks(other).validateScope(other);
    assert.ok(report.violations.some((violation) => violation.ruleName === 'AwsSolutions-S10'));
  });

  it('acknowledges each finding on one construct, with a reason', () => {
    const found = acknowledgements(app);
    assert.ok(found.length > 10, `${found.length} acknowledgements`);
    for (const { path, id, reason, scope } of found) {
      assert.ok(!(scope instanceof Stack) && !(scope instanceof App), `${id} is acknowledged for all of ${path}`);
      assert.match(id, /^AwsSolutions-[A-Z]+\d+(\[.+\])?$/, `${path}: ${id}`);
      assert.ok(reason.length >= 40, `${path} ${id}: the reason "${reason}" says too little`);
    }
  });
});
