// The dead-letter responder: `dead-letters`, triggered by the turn queue's dead-letter queue, tells the
// user of each turn there that their message could not be answered (an error frame on their web
// connections, a message in the Telegram chat it came from). It reads the conversations table (is the
// message answered after all?), reads and prunes the connections table and posts to connections (the
// push), and reads the bot token; it writes nothing else.

import { Duration } from 'aws-cdk-lib';
import type { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IStringParameter } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import * as env from './environment.ts';
import { RustLambda } from './functions.ts';
import { grantIndexedTableData, grantManageConnections } from './grants.ts';
import { DEAD_LETTER_RESPONDER_TIMEOUT, type TurnQueue } from './queue.ts';
import type { Storage } from './storage.ts';

export interface DeadLettersProps {
  readonly storage: Storage;
  readonly turns: TurnQueue;
  readonly webSocketApi: WebSocketApi;
  readonly webSocketStage: WebSocketStage;
  readonly telegramBotToken: IStringParameter;
}

export class DeadLetters extends Construct {
  readonly responder: RustLambda;

  constructor(scope: Construct, id: string, props: DeadLettersProps) {
    super(scope, id);
    const { storage } = props;
    this.responder = new RustLambda(this, 'Responder', {
      binary: 'dead-letters',
      description: 'Tells the user of a turn in the dead-letter queue that it could not be answered',
      timeout: DEAD_LETTER_RESPONDER_TIMEOUT,
      environment: {
        ...env.conversationsTable(storage.conversations),
        ...env.connectionsTable(storage.connections),
        ...env.websocketEndpoint(props.webSocketStage),
        ...env.telegramTokenParameter(props.telegramBotToken),
      },
    });
    const role = this.responder.role;
    grantIndexedTableData(storage.conversations, role, 'read');
    grantIndexedTableData(storage.connections, role, 'readWrite');
    grantManageConnections(props.webSocketApi, role);
    props.telegramBotToken.grantRead(role);
    this.responder.function.addEventSource(
      new SqsEventSource(props.turns.deadLetters, { batchSize: 1, reportBatchItemFailures: true, maxConcurrency: 2 }),
    );
  }
}

/** How long SQS keeps a dead letter the responder could not answer before the alarm says so. */
export const UNANSWERED_DEAD_LETTER_AGE = Duration.hours(1);
