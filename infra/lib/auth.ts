// Auth: the Cognito user pool, the web app's client, and the owner's account. Sign-up is closed unless
// the deployment opts in; the owner is created from the `OwnerEmail` parameter and receives a
// temporary password by email. TOTP MFA is optional (SMS is not offered: it costs per message).

import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccountRecovery, CfnUserPoolUser, Mfa, UserPool, UserPoolClient } from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';

export interface AuthProps {
  /** The owner's email address; their user name in the pool. */
  readonly ownerEmail: string;
  readonly selfSignUp: boolean;
}

export class Auth extends Construct {
  readonly userPool: UserPool;
  /** The web app's client: public (no secret), SRP sign-in and refresh tokens only, OAuth off. */
  readonly client: UserPoolClient;

  constructor(scope: Construct, id: string, props: AuthProps) {
    super(scope, id);

    this.userPool = new UserPool(this, 'Users', {
      selfSignUpEnabled: props.selfSignUp,
      signInAliases: { email: true },
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(7),
      },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      deletionProtection: false,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG2',
      reason: 'MFA is optional by design: the owner turns on TOTP from the web app; SMS MFA would cost per message.',
    });
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG3',
      reason:
        'Threat protection needs the Plus feature plan, billed per monthly active user; this single-owner pool stays on the free plan.',
    });
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG8',
      reason: 'The Plus feature plan is billed per monthly active user; the Essentials features cover one owner.',
    });

    this.client = this.userPool.addClient('Web', {
      generateSecret: false,
      // The page signs in by SRP (amazon-cognito-identity-js, web/src/auth/cognito.ts): the password itself is never sent.
      authFlows: { userSrp: true },
      // No hosted UI, no OAuth flows or callback URLs (CDK's default would allow the implicit flow).
      disableOAuth: true,
      preventUserExistenceErrors: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      enableTokenRevocation: true,
    });

    new CfnUserPoolUser(this, 'Owner', {
      userPoolId: this.userPool.userPoolId,
      username: props.ownerEmail,
      userAttributes: [
        { name: 'email', value: props.ownerEmail },
        { name: 'email_verified', value: 'true' },
      ],
      desiredDeliveryMediums: ['EMAIL'],
    });
  }
}
