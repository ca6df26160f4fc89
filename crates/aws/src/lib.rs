//! AWS adapters, the twins of the `local` ones: every port of `core` on DynamoDB, S3, SQS FIFO and the
//! API Gateway Management API, plus what only AWS needs (SSM secrets, Cognito JWT verification, metrics
//! as CloudWatch Embedded Metric Format log lines).
//!
//! Layout:
//! - [`config`]: building SDK clients once per execution environment.

pub mod config;
