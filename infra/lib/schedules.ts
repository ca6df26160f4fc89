// Schedules: the watchdog, every 15 minutes (removes connection records of vanished clients, releases
// leases of turns whose Lambda died). About 2,900 runs of ~20 ms a month: inside the free tier.

import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import * as env from './environment.ts';
import { RustLambda } from './functions.ts';
import { grantIndexedTableData } from './grants.ts';
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
      description: 'Removes expired connections and releases leases of stuck turns',
      timeout: Duration.minutes(1),
      environment: { ...env.connectionsTable(storage.connections), ...env.leasesTable(storage.leases) },
    });
    grantIndexedTableData(storage.connections, this.watchdog.role, 'readWrite');
    storage.leases.grantReadWriteData(this.watchdog.role);
    new Rule(this, 'Every15Minutes', {
      description: 'Runs the serverless-openclaw watchdog',
      schedule: Schedule.rate(WATCHDOG_EVERY),
      targets: [new LambdaFunction(this.watchdog.function, { retryAttempts: 0 })],
    });
  }
}
