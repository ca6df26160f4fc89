//! The connection and lease contract suites on DynamoDB (moto server), each on fresh tables.
//!
//! There is no race test here on purpose: moto cannot show that a conditional write is atomic. Its
//! server is threaded and its `UpdateItem` reads the item, checks the condition and writes in separate
//! steps without a lock (moto 5.2, `dynamodb/models/__init__.py`), so eight concurrent `acquire`s of a
//! free conversation sometimes get two grants there. On DynamoDB a conditional `UpdateItem` is atomic
//! per item and every lease operation is exactly one of them; the race itself is tested on the memory
//! twin (`crates/local/tests/contract.rs`).

use aws_sdk_dynamodb::Client;
use serverless_openclaw_aws::connections::{self, DynamoConnectionStore};
use serverless_openclaw_aws::leases::{self, DynamoSessionLeases};
use serverless_openclaw_testkit::contract;
use serverless_openclaw_testkit::moto::{Moto, unique_name};

fn dynamodb() -> Client {
    Client::new(&Moto::shared().sdk_config())
}

#[tokio::test]
async fn dynamo_connection_store_honours_the_contract() {
    let client = dynamodb();
    let table = unique_name("connections");
    connections::create_table(&client, &table).await.unwrap();
    contract::connection_store(&DynamoConnectionStore::new(client, table)).await;
}

#[tokio::test]
async fn dynamo_session_leases_honour_the_contract() {
    let client = dynamodb();
    let table = unique_name("leases");
    leases::create_table(&client, &table).await.unwrap();
    contract::session_leases(&DynamoSessionLeases::new(client, table)).await;
}
