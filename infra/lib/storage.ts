// Storage: the three DynamoDB tables and the data bucket. Key schemas match the Rust adapters
// (crates/aws/src/{conversations,connections,leases}.rs create the same tables for the tests).
// Everything is billed per request and per GB stored: nothing costs money while idle.

import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AttributeType, Billing, ProjectionType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { BlockPublicAccess, Bucket, BucketEncryption, HttpMethods, ObjectOwnership, StorageClass } from 'aws-cdk-lib/aws-s3';
import type { Role } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import * as env from './environment.ts';
import { grantIndexedTableData } from './grants.ts';

export interface StorageProps {
  /** Days after which a transcript is deleted; undefined keeps them. */
  readonly transcriptRetentionDays: number | undefined;
}

export class Storage extends Construct {
  /**
   * Conversations, messages, dedupe keys and the Telegram bot's items (`pk`/`sk`), with point-in-time recovery;
   * GSI `messagesByUser` for search.
   */
  readonly conversations: TableV2;
  /** Open WebSocket connections (`connectionId`, GSI `byUser`); records expire through `ttl`. */
  readonly connections: TableV2;
  /** Session leases (`userId`/`conversationId`); a lease expires through `ttl`. */
  readonly leases: TableV2;
  /**
   * Transcripts (`transcripts/<user>/<conversation>.jsonl`), workspaces (`workspaces/<user>/<path>`),
   * attachments (`attachments/<user>/<conversation>/<id>`) and uploads in flight (`uploads/<user>/<conversation>/<id>`,
   * put by the browser with a presigned request; `allowUploadsFrom` lets a web origin do it).
   */
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);

    this.conversations = new TableV2(this, 'Conversations', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billing: Billing.onDemand(),
      // Only the Telegram bot's items (processed updates, link codes, failed attempts) expire.
      timeToLiveAttribute: 'ttl',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Search (crates/aws/src/search.rs): only message items carry `searchUser`, so the index holds each
      // user's messages in time order with their indexed words; a search filters them, and costs nothing
      // between searches.
      globalSecondaryIndexes: [
        {
          indexName: 'messagesByUser',
          partitionKey: { name: 'searchUser', type: AttributeType.STRING },
          sortKey: { name: 'sk', type: AttributeType.STRING },
          projectionType: ProjectionType.INCLUDE,
          nonKeyAttributes: ['searchText', 'role', 'createdAt'],
        },
      ],
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.connections = new TableV2(this, 'Connections', {
      partitionKey: { name: 'connectionId', type: AttributeType.STRING },
      billing: Billing.onDemand(),
      timeToLiveAttribute: 'ttl',
      globalSecondaryIndexes: [
        {
          indexName: 'byUser',
          partitionKey: { name: 'userId', type: AttributeType.STRING },
          sortKey: { name: 'connectionId', type: AttributeType.STRING },
          projectionType: ProjectionType.INCLUDE,
          nonKeyAttributes: ['expiresAt'],
        },
      ],
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.leases = new TableV2(this, 'Leases', {
      partitionKey: { name: 'userId', type: AttributeType.STRING },
      sortKey: { name: 'conversationId', type: AttributeType.STRING },
      billing: Billing.onDemand(),
      timeToLiveAttribute: 'ttl',
      removalPolicy: RemovalPolicy.DESTROY,
    });

    for (const table of [this.connections, this.leases]) {
      Validations.of(table).acknowledge({
        id: 'AwsSolutions-DDB3',
        reason: 'Short-lived records (a socket, a running turn) that expire within hours through TTL; there is nothing to recover.',
      });
    }

    // Versioned, so a conditional overwrite that loses a race, or a bad turn, can be undone by hand;
    // the old versions are kept 30 days. Small objects never move to cheaper classes (S3 skips objects
    // under 128 KiB), large transcripts go to Infrequent Access after a month of no change.
    this.bucket = new Bucket(this, 'Data', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
      lifecycleRules: [
        {
          id: 'old-versions',
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
          expiredObjectDeleteMarker: true,
        },
        {
          id: 'transcripts',
          prefix: 'transcripts/',
          transitions: [{ storageClass: StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) }],
          ...(props.transcriptRetentionDays === undefined ? {} : { expiration: Duration.days(props.transcriptRetentionDays) }),
        },
        {
          // Kept until their conversation is deleted; a photo is rarely looked at again after a month.
          id: 'attachments',
          prefix: 'attachments/',
          transitions: [{ storageClass: StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) }],
        },
        {
          // An upload is completed (or refused) within minutes of its target being handed out, which removes
          // it; one never completed is removed after a day, its old versions too (the shorter of two
          // overlapping expirations applies, so not after old-versions' 30 days).
          id: 'uploads',
          prefix: 'uploads/',
          expiration: Duration.days(1),
          noncurrentVersionExpiration: Duration.days(1),
        },
      ],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        "Only the stack's own functions read and write this private bucket (TLS only, no public access); server access logs would add a second bucket and a log object per request.",
    });
  }

  /**
   * Lets pages of `origin` put uploads into the bucket with the presigned requests http-api hands out
   * (`PUT`, any header the signature names; S3 still checks every request's signature).
   */
  allowUploadsFrom(origin: string): void {
    this.bucket.addCorsRule({
      id: 'browser-uploads',
      allowedOrigins: [origin],
      allowedMethods: [HttpMethods.PUT],
      allowedHeaders: ['*'],
      maxAge: 3600,
    });
  }

  /** The variables naming all three tables, for the functions that touch conversations and turns. */
  tablesEnvironment(): env.Environment {
    return {
      ...env.conversationsTable(this.conversations),
      ...env.connectionsTable(this.connections),
      ...env.leasesTable(this.leases),
    };
  }

  /** Item reads and writes on all three tables (and their indexes). */
  grantTables(role: Role): void {
    grantIndexedTableData(this.conversations, role, 'readWrite');
    grantIndexedTableData(this.connections, role, 'readWrite');
    this.leases.grantReadWriteData(role);
  }
}
