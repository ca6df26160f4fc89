// Schedules: the watchdog, every 15 minutes (removes connection records of vanished clients, releases
// leases of turns whose Lambda died, indexes messages stored before search existed until none are left). About 2,900 runs of ~20 ms a month: inside the free tier.

import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import { RustLambda } from './functions.ts';
import type { Storage } from './storage.ts';

const WATCHDOG_EVERY = Duration.minutes(15);

export interface SchedulesProps {
  readonly storage: Storage;
}

export class Schedules extends Construct {
  readonly watchdog: RustLambda;

  constructor(scope: Construct, id: string, props: SchedulesProps) {
    super(scope, id);
    const { storage } = props;
    this.watchdog = new RustLambda(this, 'Watchdog', {
      binary: 'watchdog',
      description: 'Removes expired connections, releases leases of stuck turns, indexes older messages for search',
      timeout: Duration.minutes(1),
      environment: storage.tablesEnvironment(),
    });
    storage.grantTables(this.watchdog.role);
    new Rule(this, 'Every15Minutes', {
      description: 'Runs the serverless-openclaw watchdog',
      schedule: Schedule.rate(WATCHDOG_EVERY),
      targets: [new LambdaFunction(this.watchdog.function, { retryAttempts: 0 })],
    });
  }
}
