// Schedules: the watchdog, every 15 minutes (closes connections whose sign-in expired and removes their
// records, or those of vanished clients; releases leases of turns whose Lambda died). About 2,900 runs of
// ~20 ms a month: inside the free tier.

import { Duration } from 'aws-cdk-lib';
import type { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import * as env from './environment.ts';
import { RustLambda } from './functions.ts';
import { grantIndexedTableData, grantManageConnections } from './grants.ts';
import type { Storage } from './storage.ts';

const WATCHDOG_EVERY = Duration.minutes(15);

export interface SchedulesProps {
  readonly storage: Storage;
  readonly webSocketApi: WebSocketApi;
  readonly webSocketStage: WebSocketStage;
}

export class Schedules extends Construct {
  readonly watchdog: RustLambda;

  constructor(scope: Construct, id: string, props: SchedulesProps) {
    super(scope, id);
    const { storage } = props;
    this.watchdog = new RustLambda(this, 'Watchdog', {
      binary: 'watchdog',
      description: 'Closes expired connections and releases leases of stuck turns',
      timeout: Duration.minutes(1),
      environment: {
        ...env.connectionsTable(storage.connections),
        ...env.leasesTable(storage.leases),
        ...env.websocketEndpoint(props.webSocketStage),
      },
    });
    grantIndexedTableData(storage.connections, this.watchdog.role, 'readWrite');
    storage.leases.grantReadWriteData(this.watchdog.role);
    grantManageConnections(props.webSocketApi, this.watchdog.role);
    new Rule(this, 'Every15Minutes', {
      description: 'Runs the serverless-openclaw watchdog',
      schedule: Schedule.rate(WATCHDOG_EVERY),
      targets: [new LambdaFunction(this.watchdog.function, { retryAttempts: 0 })],
    });
  }
}
