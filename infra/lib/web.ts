// The web app: a private S3 bucket behind CloudFront (origin access control, HTTPS only, security
// headers, SPA fallback to index.html), filled from web/dist at deploy time together with the
// `config.json` that tells the page where the APIs are (the contract in web/src/runtimeConfig.ts).
// No invalidations: cache headers make a deploy visible at once (see `publish`).

import { existsSync } from 'node:fs';
import { Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  PriceClass,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, CacheControl, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import type { RuntimeConfig } from '../../web/src/runtimeConfig.ts';
import { acknowledgeWildcards, nagArn } from './grants.ts';
import { repoPath } from './paths.ts';

/** The built web app (`make web`). */
const WEB_DIST = repoPath('web', 'dist');

export class Web extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;

  constructor(scope: Construct, id: string) {
    super(scope, id);

    this.bucket = new Bucket(this, 'Site', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'Holds only the public build of the web app, read by CloudFront; access logs would add a bucket and cost per request.',
    });

    // The page talks to the stack's API Gateway endpoints, to Cognito in this region and to S3 in this
    // region (the uploads it puts with presigned requests; a wildcard like the API's, because naming the
    // data bucket here would make a cycle with its CORS rule, which names this distribution), and to
    // nothing else; it shows images and plays audio from S3 in this region too (attachments through
    // their presigned download links); it runs only its own scripts.
    const apiHosts = `*.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}`;
    const s3Hosts = `*.s3.${Aws.REGION}.${Aws.URL_SUFFIX}`;
    const headers = new ResponseHeadersPolicy(this, 'Headers', {
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            // blob: the previews of images picked but not sent yet.
            `img-src 'self' data: blob: https://${s3Hosts}`,
            `media-src 'self' https://${s3Hosts}`,
            `connect-src 'self' https://${apiHosts} wss://${apiHosts} https://cognito-idp.${Aws.REGION}.${Aws.URL_SUFFIX} https://${s3Hosts}`,
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
          ].join('; '),
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
      },
    });

    this.distribution = new Distribution(this, 'Cdn', {
      comment: 'serverless-openclaw web app',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
        compress: true,
      },
      // Any path the bucket does not have is the app's own route: answer with index.html.
      errorResponses: [403, 404].map((httpStatus) => ({
        httpStatus,
        responseHttpStatus: 200,
        responsePagePath: '/index.html',
        ttl: Duration.seconds(0),
      })),
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
    });
    const acknowledge = (id: string, reason: string) => Validations.of(this.distribution).acknowledge({ id, reason });
    acknowledge('AwsSolutions-CFR1', 'The owner decides where they chat from; no country is blocked.');
    acknowledge(
      'AwsSolutions-CFR2',
      'A WAF web ACL is billed monthly whether or not anyone visits, against the zero-idle-cost goal; the site is static and the APIs are throttled.',
    );
    acknowledge('AwsSolutions-CFR3', 'Access logs would add a bucket and cost per request for a static site.');
    acknowledge(
      'AwsSolutions-CFR4',
      'The default *.cloudfront.net certificate is used (no custom domain); CloudFront fixes its minimum TLS version.',
    );
  }

  /**
   * Uploads web/dist and the runtime `config.json`. The hashed files under assets/ never change, so
   * browsers and CloudFront keep them a year; index.html and config.json change in place, so they are
   * revalidated on every load. That makes a new deploy visible at once without a CloudFront
   * invalidation (which would need a permission on every distribution in the account).
   */
  publish(config: RuntimeConfig): void {
    if (!existsSync(WEB_DIST)) {
      throw new Error(`The web app is not built (${WEB_DIST} is missing): run \`make web\` first.`);
    }
    // Old hashed files are kept (no prune): a tab opened before the deploy may still load them.
    const assets = new BucketDeployment(this, 'PublishAssets', {
      sources: [Source.asset(WEB_DIST, { exclude: ['index.html', 'config.json'] })],
      destinationBucket: this.bucket,
      cacheControl: [CacheControl.fromString('public, max-age=31536000, immutable')],
      prune: false,
      memoryLimit: 256,
    });
    const entry = new BucketDeployment(this, 'PublishEntry', {
      sources: [Source.asset(WEB_DIST, { exclude: ['*', '!index.html'] }), Source.jsonData('config.json', config)],
      destinationBucket: this.bucket,
      cacheControl: [CacheControl.noCache()],
      prune: false,
      memoryLimit: 256,
    });
    entry.node.addDependency(assets);
    // The deployment runs in a function CDK shares across the stack; its policies are CDK's own.
    const copier = Stack.of(this).node.children.find((child) => child.node.id.startsWith('Custom::CDKBucketDeployment'));
    if (copier === undefined) throw new Error('BucketDeployment no longer creates its Custom::CDKBucketDeployment function');
    Validations.of(copier).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: "CDK's deployment function writes its logs through Lambda's basic execution policy; it runs only during deploys.",
    });
    Validations.of(copier).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'CDK chooses and updates the runtime of its own deployment function (python3.13 in this aws-cdk-lib).',
    });
    acknowledgeWildcards(
      copier,
      [
        'Action::s3:GetObject*',
        'Action::s3:GetBucket*',
        'Action::s3:List*',
        'Action::s3:DeleteObject*',
        'Action::s3:Abort*',
        'Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*',
        `Resource::${nagArn(this.bucket)}/*`,
      ],
      "CDK's deployment function copies the built app from the CDK assets bucket into the site bucket, replacing what is there.",
    );
  }

  get url(): string {
    return `https://${this.distribution.distributionDomainName}`;
  }
}
