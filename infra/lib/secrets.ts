// Secrets: SSM SecureString parameters. CloudFormation cannot create SecureStrings (and a value in a
// template would be readable by anyone who can read the stack), so `make deploy` writes them under
// `/serverless-openclaw/<stack>/<name>` (with the AWS CLI; the Telegram webhook secret through
// `serverless-openclaw telegram set-webhook`), and the stack only names them and grants reads.
// They are encrypted with the AWS-managed `aws/ssm` key: no customer key, no monthly key fee.

import { Stack } from 'aws-cdk-lib';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type IStringParameter, StringParameter } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { acknowledgeWildcards } from './grants.ts';
import type { LlmProvider } from './settings.ts';

/** The parameter of each provider's key and the agent variable that names it (docs/configuration.md). */
const API_KEYS: Record<LlmProvider, { readonly name: string; readonly variable: string }> = {
  anthropic: { name: 'anthropic-api-key', variable: 'SERVERLESS_OPENCLAW_ANTHROPIC_API_KEY_PARAMETER' },
  openai: { name: 'openai-api-key', variable: 'SERVERLESS_OPENCLAW_OPENAI_API_KEY_PARAMETER' },
  compatible: { name: 'llm-api-key', variable: 'SERVERLESS_OPENCLAW_LLM_API_KEY_PARAMETER' },
};

/** `/serverless-openclaw/<stack>/<name>`: the path scripts/deploy.sh writes to. */
function secretName(stackName: string, name: string): string {
  return `/serverless-openclaw/${stackName}/${name}`;
}

export interface SecretsProps {
  readonly llmProvider: LlmProvider;
}

export class Secrets extends Construct {
  readonly apiKey: { readonly parameter: IStringParameter; readonly variable: string };
  /** `telegram-bot-token`: written by `make deploy` when a bot token is given. */
  readonly telegramBotToken: IStringParameter;
  /** `telegram-webhook-secret`: the secret Telegram sends with every webhook call, written by
   * `serverless-openclaw telegram set-webhook` (which `make deploy` runs when a bot token is stored). */
  readonly telegramWebhookSecret: IStringParameter;

  /**
   * `/serverless-openclaw/<stack>/users`: each user's API keys, written from the settings page as
   * `<path>/<user>/api-keys/<provider>` (SecureStrings created at run time, so not part of the stack).
   */
  readonly userKeysPath: string;

  constructor(scope: Construct, id: string, props: SecretsProps) {
    super(scope, id);
    const stackName = Stack.of(this).stackName;
    const secureString = (parameterId: string, name: string) =>
      StringParameter.fromSecureStringParameterAttributes(this, parameterId, { parameterName: secretName(stackName, name) });
    const { name, variable } = API_KEYS[props.llmProvider];
    this.apiKey = { parameter: secureString('LlmApiKey', name), variable };
    this.telegramBotToken = secureString('TelegramBotToken', 'telegram-bot-token');
    this.telegramWebhookSecret = secureString('TelegramWebhookSecret', 'telegram-webhook-secret');
    this.userKeysPath = secretName(stackName, 'users');
  }

  /** http-api: store, remove and list (names only, never decrypted) users' keys. */
  grantUserKeysWrite(role: IGrantable & Construct): void {
    this.grantUserKeys(role, ['ssm:PutParameter', 'ssm:DeleteParameter', 'ssm:GetParametersByPath']);
  }

  /** The agent: read (decrypt) users' keys. */
  grantUserKeysRead(role: IGrantable & Construct): void {
    this.grantUserKeys(role, ['ssm:GetParameter']);
  }

  private grantUserKeys(role: IGrantable & Construct, actions: string[]): void {
    const stack = Stack.of(this);
    const path = this.userKeysPath.slice(1);
    role.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions,
        resources: [stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: `${path}/*` })],
      }),
    );
    acknowledgeWildcards(
      role,
      [`Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/${path}/*`],
      "Users' API keys are parameters named by user ids known only at run time, under this stack's own path.",
    );
  }
}
