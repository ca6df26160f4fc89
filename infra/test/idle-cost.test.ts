// Zero idle cost, proven on the synthesized template: nothing in it is billed by the hour.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Billing, Capacity, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { idleCosts } from '../lib/idleCost.ts';
import { resources, synthesize } from './synth.ts';

describe('idle cost', () => {
  it('is zero with AGENT_RUNTIME=lambda: no resource is billed by the hour', () => {
    const { template } = synthesize({ agentRuntime: 'lambda' });
    assert.ok(Object.keys(resources(template)).length > 50);
    assert.deepEqual(idleCosts(resources(template)), []);
  });

  it('catches what would be billed while idle', () => {
    const stack = new Stack();
    new Vpc(stack, 'Vpc', {
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: SubnetType.PUBLIC },
        { name: 'private', subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      ],
    });
    new Key(stack, 'Key');
    new TableV2(stack, 'Provisioned', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      billing: Billing.provisioned({ readCapacity: Capacity.fixed(1), writeCapacity: Capacity.autoscaled({ maxCapacity: 2 }) }),
    });
    const fn = new LambdaFunction(stack, 'Warm', {
      runtime: Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler = async () => {};'),
    });
    fn.addAlias('live', { provisionedConcurrentExecutions: 1 });
    const found = idleCosts(resources(Template.fromStack(stack))).join('\n');
    for (const expected of [
      'AWS::EC2::NatGateway',
      'AWS::EC2::VPC',
      'AWS::EC2::EIP',
      'AWS::KMS::Key',
      'AWS::DynamoDB::GlobalTable',
      'AWS::Lambda::Alias',
    ]) {
      assert.match(found, new RegExp(expected.replaceAll(':', '\\:')), `${expected} not reported in:\n${found}`);
    }
  });

  it('catches an ECS service kept running and an interface endpoint', () => {
    const found = idleCosts({
      Service: { Type: 'AWS::ECS::Service', Properties: { DesiredCount: 1 } },
      Idle: { Type: 'AWS::ECS::Service', Properties: { DesiredCount: 0 } },
      Interface: { Type: 'AWS::EC2::VPCEndpoint', Properties: { VpcEndpointType: 'Interface' } },
      Gateway: { Type: 'AWS::EC2::VPCEndpoint', Properties: { VpcEndpointType: 'Gateway' } },
    });
    assert.deepEqual(found, [
      'Service (AWS::ECS::Service): tasks running all the time (DesiredCount is not 0)',
      'Interface (AWS::EC2::VPCEndpoint): interface endpoint hours',
    ]);
  });
});
