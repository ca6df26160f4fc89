// Monitoring: alarms that email the owner when something breaks — turns failing by error code (the
// agent's `TurnFailed` EMF metric: an expired key fails every turn as `llm_error`), a turn in the
// dead-letter queue and one the responder could not answer, a turn queue that stopped moving, the
// agent's errors and throttles, every other function's errors, API Gateway's 5xx, a stuck turn found by
// the watchdog — a dashboard, and an AWS Budgets alert at a monthly amount. The budget is account-wide:
// a cost filter on the stack's tag would only work once the tag is activated as a cost-allocation tag
// in the Billing console, and counts costs from then on (docs/cost.md says how). The
// alarms' price is in docs/cost.md (20 alarm metrics, 10 of them in CloudWatch's always-free allowance).

import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { CfnBudget } from 'aws-cdk-lib/aws-budgets';
import { Alarm, ComparisonOperator, Dashboard, GraphWidget, type IMetric, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { HttpApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { UNANSWERED_DEAD_LETTER_AGE } from './deadLetters.ts';
import type { TurnQueue } from './queue.ts';

/** The namespace of the functions' EMF metrics (crates/aws/src/metrics.rs). */
const METRICS_NAMESPACE = 'ServerlessOpenClaw';

/**
 * The error codes of failed turns that need the owner (`docs/protocol.md`): the provider refuses
 * (an expired or wrong key, no credit) or no provider is configured, the runner crashes, turns run
 * out of time (a provider that hangs), storage fails. Not `cancelled` (the user's Stop) nor `conflict`
 * (a race the user is told to resend after).
 */
export const ALARMED_TURN_ERRORS = ['llm_error', 'no_provider', 'agent_crashed', 'timeout', 'internal'] as const;

/** A turn waiting longer than this in the queue: two turn deadlines and more (something stopped it). */
const OLDEST_TURN_AGE = Duration.minutes(30);

export interface MonitoringProps {
  readonly ownerEmail: string;
  /** The monthly budget in USD; the owner is emailed at 80 % actual and 100 % forecast. */
  readonly monthlyBudgetUsd: number;
  readonly agent: LambdaFunction;
  /** Every other function: their errors are alarmed one by one. */
  readonly functions: readonly LambdaFunction[];
  readonly httpApi: HttpApi;
  readonly webSocketStage: WebSocketStage;
  readonly turns: TurnQueue;
}

function custom(metricName: string, functionName: string, statistic: string, dimensions: Record<string, string> = {}): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { Function: functionName, ...dimensions },
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

    const alarm = (name: string, metric: IMetric, description: string, threshold = 1) => {
      const created = new Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      created.addAlarmAction(notify);
      return created;
    };
    const fiveMinutes = { period: Duration.minutes(5) };

    for (const code of ALARMED_TURN_ERRORS) {
      alarm(
        `TurnFailed-${code}`,
        custom('TurnFailed', 'agent', 'Sum', { ErrorCode: code }),
        `A turn failed with ${code} (its user was told); with llm_error, check the provider key and credit.`,
      );
    }
    alarm(
      'DeadLetters',
      turns.deadLetters.metricNumberOfMessagesReceived({ ...fiveMinutes, statistic: 'Sum' }),
      'A turn reached the dead-letter queue: its deliveries never finished (the agent crashed or was killed). Its user was told.',
    );
    alarm(
      'DeadLettersUnanswered',
      turns.deadLetters.metricApproximateAgeOfOldestMessage({ ...fiveMinutes, statistic: 'Maximum' }),
      'A turn has been in the dead-letter queue for an hour: the dead-letters function could not tell its user.',
      UNANSWERED_DEAD_LETTER_AGE.toSeconds(),
    );
    alarm(
      'OldestTurn',
      turns.queue.metricApproximateAgeOfOldestMessage({ ...fiveMinutes, statistic: 'Maximum' }),
      `A turn has waited in the queue for ${OLDEST_TURN_AGE.toMinutes()} minutes: the agent is not taking turns.`,
      OLDEST_TURN_AGE.toSeconds(),
    );
    alarm('AgentErrors', agent.metricErrors(fiveMinutes), 'The agent function failed.');
    alarm('AgentThrottles', agent.metricThrottles(fiveMinutes), 'The agent function was throttled.');
    for (const fn of props.functions) {
      const name = fn.node.scope?.node.id ?? fn.node.id;
      alarm(`Errors-${name}`, fn.metricErrors(fiveMinutes), `The ${name} function failed.`);
    }
    alarm(
      'HttpApi5xx',
      props.httpApi.metricServerError({ ...fiveMinutes, statistic: 'Sum' }),
      'The HTTP API answered 5xx (REST or the Telegram webhook).',
    );
    alarm(
      'WebSocketErrors',
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName: 'ExecutionError',
        dimensionsMap: { ApiId: props.webSocketStage.api.apiId, Stage: props.webSocketStage.stageName },
        statistic: 'Sum',
        ...fiveMinutes,
      }),
      'The WebSocket API failed to run a route (its 5xx).',
    );
    alarm('StuckTurns', custom('StuckTurns', 'watchdog', 'Sum'), 'The watchdog released the lease of a turn whose function died.');

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
          new GraphWidget({
            title: 'Failed turns',
            left: ALARMED_TURN_ERRORS.map((code) => custom('TurnFailed', 'agent', 'Sum', { ErrorCode: code })),
          }),
        ],
        [
          new GraphWidget({
            title: 'Agent',
            left: [agent.metricInvocations(), agent.metricErrors(), agent.metricThrottles()],
            right: [agent.metricDuration({ statistic: 'p90' })],
          }),
          new GraphWidget({
            title: 'Turn queue',
            left: [turns.queue.metricApproximateNumberOfMessagesVisible(), turns.deadLetters.metricApproximateNumberOfMessagesVisible()],
            right: [turns.queue.metricApproximateAgeOfOldestMessage()],
          }),
          new GraphWidget({
            title: 'Function errors',
            left: props.functions.map((fn) => fn.metricErrors({ label: fn.node.scope?.node.id ?? fn.node.id })),
          }),
        ],
      ],
    });

    // Account-wide (see the top of this file): every cost of the account counts, not only this stack's.
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
