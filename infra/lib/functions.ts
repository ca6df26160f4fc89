// How every Rust function of the stack is declared: an arm64 `provided.al2023` function built by
// cargo-lambda from the workspace's bin of the same name, with its own role (no managed policies: each
// permission is granted by the construct that owns the resource) and its own log group.

import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import { repoPath } from './paths.ts';

/** The ceiling for functions that only route, store and push (the turn runs in the agent). */
export const GATEWAY_MEMORY_MB = 256;

export interface RustLambdaProps {
  /** The bin in crates/lambdas/src/bin, also the function's name suffix (`ws-connect`, ...). */
  readonly binary: string;
  readonly description: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly timeout: Duration;
}

/** A role that only Lambda can assume, with nothing attached yet. */
export function functionRole(scope: Construct, id: string, description: string): Role {
  return new Role(scope, id, { assumedBy: new ServicePrincipal('lambda.amazonaws.com'), description });
}

/** A log group that keeps a month of logs and goes away with the stack. */
export function functionLogs(scope: Construct, id: string): LogGroup {
  return new LogGroup(scope, id, { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
}

export class RustLambda extends Construct {
  readonly function: RustFunction;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: RustLambdaProps) {
    super(scope, id);
    this.role = functionRole(this, 'Role', `Runs the ${props.binary} function`);
    const logGroup = functionLogs(this, 'Logs');
    logGroup.grantWrite(this.role);
    this.function = new RustFunction(this, 'Function', {
      manifestPath: repoPath('Cargo.toml'),
      binaryName: props.binary,
      architecture: Architecture.ARM_64,
      memorySize: GATEWAY_MEMORY_MB,
      timeout: props.timeout,
      description: props.description,
      environment: { ...props.environment },
      role: this.role,
      logGroup,
    });
  }
}
