// Monitoring: alarms that email the owner (a turn in the dead-letter queue, agent errors and
// throttles, a stuck turn found by the watchdog), a dashboard, and an AWS Budgets alert at a monthly
// amount. Alarms and dashboard stay within CloudWatch's always-free allowance (10 alarms, 3 dashboards);
// see docs/cost.md.

import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { CfnBudget } from 'aws-cdk-lib/aws-budgets';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { TurnQueue } from './queue.ts';

/** The namespace of the functions' EMF metrics (crates/aws/src/metrics.rs). */
const METRICS_NAMESPACE = 'ServerlessOpenClaw';

export interface MonitoringProps {
  readonly ownerEmail: string;
  /** The monthly budget in USD; the owner is emailed at 80 % actual and 100 % forecast. */
  readonly monthlyBudgetUsd: number;
  readonly agent: LambdaFunction;
  readonly gateway: readonly LambdaFunction[];
  readonly turns: TurnQueue;
}

function custom(metricName: string, functionName: string, statistic: string): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { Function: functionName },
    statistic,
    period: Duration.minutes(5),
  });
}

export class Monitoring extends Construct {
  readonly topic: Topic;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { agent, turns } = props;

    this.topic = new Topic(this, 'Alarms', { displayName: 'serverless-openclaw alarms', enforceSSL: true });
    this.topic.addSubscription(new EmailSubscription(props.ownerEmail));
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'CloudWatch alarms cannot publish to a topic under the AWS-managed SNS key, and a customer key is billed monthly; the messages are alarm names and states.',
    });
    const notify = new SnsAction(this.topic);

    const alarm = (name: string, metric: IMetric, description: string) => {
      const created = new Alarm(this, name, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      created.addAlarmAction(notify);
      return created;
    };
    alarm(
      'DeadLetters',
      turns.deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      'A turn failed three deliveries and is in the dead-letter queue.',
    );
    alarm('AgentErrors', agent.metricErrors({ period: Duration.minutes(5) }), 'The agent function failed.');
    alarm('AgentThrottles', agent.metricThrottles({ period: Duration.minutes(5) }), 'The agent function was throttled.');
    alarm(
      'StuckTurns',
      custom('StuckTurns', 'watchdog', 'Sum'),
      'The watchdog released the lease of a turn whose function died.',
    );

    new Dashboard(this, 'Dashboard', {
      dashboardName: `${Stack.of(this).stackName}-overview`,
      defaultInterval: Duration.days(7),
      widgets: [
        [
          new GraphWidget({
            title: 'Turn latency (ms)',
            left: [custom('TurnLatency', 'agent', 'p50'), custom('TurnLatency', 'agent', 'p90')],
          }),
          new GraphWidget({
            title: 'Tokens per 5 min',
            left: [custom('InputTokens', 'agent', 'Sum'), custom('OutputTokens', 'agent', 'Sum')],
          }),
          new GraphWidget({ title: 'LLM cost (USD per 5 min)', left: [custom('CostUsd', 'agent', 'Sum')] }),
        ],
        [
          new GraphWidget({
            title: 'Agent',
            left: [agent.metricInvocations(), agent.metricErrors(), agent.metricThrottles()],
            right: [agent.metricDuration({ statistic: 'p90' })],
          }),
          new GraphWidget({
            title: 'Turn queue',
            left: [
              turns.queue.metricApproximateNumberOfMessagesVisible(),
              turns.deadLetters.metricApproximateNumberOfMessagesVisible(),
            ],
            right: [turns.queue.metricApproximateAgeOfOldestMessage()],
          }),
          new GraphWidget({
            title: 'Gateway errors',
            left: props.gateway.map((fn) => fn.metricErrors({ label: fn.node.scope?.node.id ?? fn.node.id })),
          }),
        ],
      ],
    });

    new CfnBudget(this, 'Budget', {
      budget: {
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: props.monthlyBudgetUsd, unit: 'USD' },
      },
      notificationsWithSubscribers: [
        { threshold: 80, notificationType: 'ACTUAL' },
        { threshold: 100, notificationType: 'FORECASTED' },
      ].map(({ threshold, notificationType }) => ({
        notification: { comparisonOperator: 'GREATER_THAN', threshold, thresholdType: 'PERCENTAGE', notificationType },
        subscribers: [{ subscriptionType: 'EMAIL', address: props.ownerEmail }],
      })),
    });
  }
}
