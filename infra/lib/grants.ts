// Grants whose CDK policies carry wildcards that cdk-nag (AwsSolutions-IAM5) reports: each is made here
// together with the acknowledgement of exactly the findings it causes, on the role that receives it,
// with the reason. Any other wildcard still fails the synth.

import { type CfnResource, Stack, Validations } from 'aws-cdk-lib';
import type { WebSocketApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { Role } from 'aws-cdk-lib/aws-iam';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';

function logicalId(resource: IConstruct): string {
  const stack = Stack.of(resource);
  return stack.resolve(stack.getLogicalId(resource.node.defaultChild as CfnResource)) as string;
}

/** How cdk-nag writes a `Ref` to the resource, and its `Arn` attribute, in a finding. */
const nagRef = (resource: IConstruct) => `<${logicalId(resource)}>`;
export const nagArn = (resource: IConstruct) => `<${logicalId(resource)}.Arn>`;

export function acknowledgeWildcards(scope: IConstruct, findings: readonly string[], reason: string): void {
  for (const finding of findings) {
    Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
  }
}

/** Item reads, writes, or both, on a table with indexes: the grant covers `<table>/index/*`. */
export function grantIndexedTableData(table: TableV2, role: Role, access: 'read' | 'write' | 'readWrite'): void {
  if (access === 'read') table.grantReadData(role);
  else if (access === 'write') table.grantWriteData(role);
  else table.grantReadWriteData(role);
  acknowledgeWildcards(
    role,
    [`Resource::${nagArn(table)}/index/*`],
    "Grants on a table include its indexes; `/index/*` names only this table's indexes.",
  );
}

/**
 * Object reads, writes and deletes in one bucket, and listing it. The turn's conditional writes need all
 * three (If-Match / If-None-Match puts, If-Match deletes), workspace sync lists a user's prefix.
 */
export function grantBucketObjects(bucket: Bucket, role: Role): void {
  bucket.grantReadWrite(role);
  acknowledgeWildcards(
    role,
    [
      'Action::s3:GetObject*',
      'Action::s3:GetBucket*',
      'Action::s3:List*',
      'Action::s3:DeleteObject*',
      'Action::s3:Abort*',
      `Resource::${nagArn(bucket)}/*`,
    ],
    "CDK's read/write grant on this one bucket: object keys are per user and conversation, known only at run time.",
  );
}

/**
 * What http-api does in the data bucket, and nothing else: reads, writes and deletes attachments
 * (`attachments/*`), presigns the browser's uploads and reads and removes what arrived (`uploads/*`; a
 * presigned PUT acts with the signer's rights), deletes a conversation's transcript (`transcripts/*`,
 * conditionally, which needs the read too), and lists, writes and deletes users' skills, which live in
 * their workspaces (`workspaces/*`, conditionally too).
 */
export function grantApiObjects(bucket: Bucket, role: Role): void {
  const prefixes = ['attachments/*', 'uploads/*', 'transcripts/*', 'workspaces/*'];
  for (const prefix of prefixes) bucket.grantReadWrite(role, prefix);
  acknowledgeWildcards(
    role,
    [
      'Action::s3:GetObject*',
      'Action::s3:GetBucket*',
      'Action::s3:List*',
      'Action::s3:DeleteObject*',
      'Action::s3:Abort*',
      ...prefixes.map((prefix) => `Resource::${nagArn(bucket)}/${prefix}`),
    ],
    "CDK's read/write grant under each prefix http-api works in: object keys are per user and conversation, known only at run time.",
  );
}

/**
 * Writing and deleting attachment objects (`attachments/<user>/<conversation>/<id>`) in one bucket,
 * nothing else: telegram-webhook stores the photos and documents users send (and removes one whose
 * message was refused), but never reads or lists the bucket.
 */
export function grantAttachmentWrites(bucket: Bucket, role: Role): void {
  bucket.grantPut(role, 'attachments/*');
  bucket.grantDelete(role, 'attachments/*');
  acknowledgeWildcards(
    role,
    ['Action::s3:Abort*', 'Action::s3:DeleteObject*', `Resource::${nagArn(bucket)}/attachments/*`],
    "CDK's put and delete grants under the attachments prefix: object keys are per user and conversation, known only at run time.",
  );
}

/**
 * Reading users' workspaces (`workspaces/<user>/…`) in one bucket, nothing else: ws-message and
 * telegram-webhook answer `/skills` and check a `/skill` from the skills stored there.
 */
export function grantWorkspaceReads(bucket: Bucket, role: Role): void {
  bucket.grantRead(role, 'workspaces/*');
  acknowledgeWildcards(
    role,
    ['Action::s3:GetObject*', 'Action::s3:GetBucket*', 'Action::s3:List*', `Resource::${nagArn(bucket)}/workspaces/*`],
    "CDK's read grant under the workspaces prefix: object keys are per user and skill, known only at run time.",
  );
}

/** Posting to and closing the API's connections (`@connections/<id>`, ids known only at run time). */
export function grantManageConnections(api: WebSocketApi, role: Role): void {
  api.grantManageConnections(role);
  acknowledgeWildcards(
    role,
    [`Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:${nagRef(api)}/*/*/@connections/*`],
    "Connection ids exist only at run time; the resource is this one API's @connections path.",
  );
}
