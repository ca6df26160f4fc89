// The turn queue: SQS FIFO, one message group per conversation (turns of a conversation run in order,
// different conversations in parallel), deduplicated per group by the client's message id. A turn
// that fails three deliveries lands in the dead-letter queue, which the monitoring alarms on.

import { Duration, Validations } from 'aws-cdk-lib';
import { DeduplicationScope, FifoThroughputLimit, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface TurnQueueProps {
  /** At least the agent function's timeout: a message must stay hidden while its turn may still run. */
  readonly visibilityTimeout: Duration;
}

export class TurnQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetters: Queue;

  constructor(scope: Construct, id: string, props: TurnQueueProps) {
    super(scope, id);
    this.deadLetters = new Queue(this, 'DeadLetters', {
      fifo: true,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This is the dead-letter queue of the turn queue.',
    });
    this.queue = new Queue(this, 'Turns', {
      fifo: true,
      contentBasedDeduplication: false,
      // The dedupe id is the client's message id, unique per sender only: scope it to the group.
      deduplicationScope: DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout,
      retentionPeriod: Duration.days(1),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: 3 },
    });
  }
}
