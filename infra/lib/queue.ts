// The turn queue: SQS FIFO, one message group per conversation (turns of a conversation run in order,
// different conversations in parallel), deduplicated per group by the client's message id.
//
// Nothing is lost silently: a message stays hidden six times the agent's timeout (AWS's advice for a
// Lambda event source, so the event source's own retries of a throttled invoke fit in it; SQS allows
// 12 hours), is received up to five times, and is kept four days. A turn that never finishes (the
// agent crashed or was killed on each delivery) lands in the dead-letter queue, kept 14 days, whose
// consumer (deadLetters.ts) tells the user; the monitoring alarms on it.

import { Duration, Validations } from 'aws-cdk-lib';
import { DeduplicationScope, FifoThroughputLimit, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** Receives of one turn before the dead-letter queue (also the agent's busy retry is derived from it). */
export const MAX_RECEIVE_COUNT = 5;
/** SQS's ceiling for a visibility timeout. */
const MAX_VISIBILITY = Duration.hours(12);
/** How long the dead-letter responder may run on one batch; the dead-letter queue hides a message longer. */
export const DEAD_LETTER_RESPONDER_TIMEOUT = Duration.seconds(30);

export interface TurnQueueProps {
  /** The agent function's timeout: a message stays hidden six times as long. */
  readonly agentTimeout: Duration;
}

export class TurnQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetters: Queue;

  constructor(scope: Construct, id: string, props: TurnQueueProps) {
    super(scope, id);
    const visibility = Duration.seconds(6 * props.agentTimeout.toSeconds());
    if (visibility.toSeconds() > MAX_VISIBILITY.toSeconds()) {
      throw new Error(`a visibility timeout of ${visibility.toHumanString()} is above SQS's 12 hours`);
    }
    this.deadLetters = new Queue(this, 'DeadLetters', {
      fifo: true,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      visibilityTimeout: Duration.seconds(2 * DEAD_LETTER_RESPONDER_TIMEOUT.toSeconds()),
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
      visibilityTimeout: visibility,
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
  }
}
