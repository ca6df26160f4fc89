// What would cost money while nobody talks: resource types billed by the hour (or a fixed monthly
// fee) whatever the traffic. `make test-infra` runs this over the synthesized template; with
// AGENT_RUNTIME=lambda it must find nothing. docs/cost.md explains the model.

type Resource = { Type: string; Properties?: Record<string, unknown> };

/** Billed per hour (or month) while they exist, used or not. */
const ALWAYS_BILLED: Readonly<Record<string, string>> = {
  'AWS::EC2::NatGateway': 'NAT gateway hours',
  'AWS::EC2::Instance': 'instance hours',
  'AWS::EC2::EIP': 'public IPv4 hours',
  'AWS::EC2::VPC': 'a VPC (the lambda runtime needs none)',
  'AWS::EC2::TransitGateway': 'attachment hours',
  'AWS::EC2::ClientVpnEndpoint': 'endpoint hours',
  'AWS::AutoScaling::AutoScalingGroup': 'instance hours',
  'AWS::ElasticLoadBalancing::LoadBalancer': 'load balancer hours',
  'AWS::ElasticLoadBalancingV2::LoadBalancer': 'load balancer hours',
  'AWS::RDS::DBInstance': 'database hours',
  'AWS::RDS::DBCluster': 'database hours',
  'AWS::DocDB::DBCluster': 'database hours',
  'AWS::Neptune::DBCluster': 'database hours',
  'AWS::Redshift::Cluster': 'node hours',
  'AWS::ElastiCache::CacheCluster': 'node hours',
  'AWS::ElastiCache::ReplicationGroup': 'node hours',
  'AWS::ElastiCache::ServerlessCache': 'a minimum storage charge',
  'AWS::OpenSearchService::Domain': 'instance hours',
  'AWS::Elasticsearch::Domain': 'instance hours',
  'AWS::EKS::Cluster': 'control plane hours',
  'AWS::MSK::Cluster': 'broker hours',
  'AWS::Kinesis::Stream': 'shard hours',
  'AWS::SageMaker::Endpoint': 'instance hours',
  'AWS::AppRunner::Service': 'provisioned instance hours',
  'AWS::GlobalAccelerator::Accelerator': 'accelerator hours',
  'AWS::NetworkFirewall::Firewall': 'endpoint hours',
  'AWS::KMS::Key': 'a monthly key fee',
  'AWS::SecretsManager::Secret': 'a monthly secret fee',
  'AWS::WAFv2::WebACL': 'a monthly web ACL fee',
  'AWS::Route53::HostedZone': 'a monthly hosted zone fee',
};

/** Billed by the hour only with some properties. */
function conditionallyBilled(resource: Resource): string | undefined {
  const props = resource.Properties ?? {};
  switch (resource.Type) {
    case 'AWS::EC2::VPCEndpoint':
      return props.VpcEndpointType === 'Gateway' ? undefined : 'interface endpoint hours';
    case 'AWS::ECS::Service':
      return props.DesiredCount === 0 ? undefined : 'tasks running all the time (DesiredCount is not 0)';
    case 'AWS::Lambda::Alias':
    case 'AWS::Lambda::Version':
      return props.ProvisionedConcurrencyConfig === undefined ? undefined : 'provisioned concurrency hours';
    case 'AWS::DynamoDB::Table':
    case 'AWS::DynamoDB::GlobalTable':
      return props.BillingMode === 'PAY_PER_REQUEST' ? undefined : 'provisioned capacity hours';
    case 'AWS::ApiGateway::Stage':
      return props.CacheClusterEnabled === true ? 'API cache hours' : undefined;
    default:
      return undefined;
  }
}

/** One line per resource that costs money while idle (`<logical id> (<type>): <why>`); empty when none. */
export function idleCosts(resources: Readonly<Record<string, Resource>>): string[] {
  return Object.entries(resources).flatMap(([id, resource]) => {
    const why = ALWAYS_BILLED[resource.Type] ?? conditionallyBilled(resource);
    return why === undefined ? [] : [`${id} (${resource.Type}): ${why}`];
  });
}
