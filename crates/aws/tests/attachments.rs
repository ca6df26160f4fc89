//! The S3 and DynamoDB attachment store on moto server: the shared contract (a user's id reaches nothing
//! of another user's), the keys the bytes and metadata live under, and a refused put that leaves no
//! object behind.

use serverless_openclaw_aws::DynamoS3AttachmentStore;
use serverless_openclaw_aws::config::s3_client;
use serverless_openclaw_aws::conversations::create_table;
use serverless_openclaw_core::attachments::Attachments;
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::AttachmentStore;
use serverless_openclaw_testkit::contract;
use serverless_openclaw_testkit::moto::{Moto, unique_name};

/// A store on a fresh table and bucket, with the S3 client and bucket name for looking underneath.
async fn fresh_store() -> (DynamoS3AttachmentStore, aws_sdk_s3::Client, String) {
    let config = Moto::shared().sdk_config();
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let table = unique_name("conversations");
    create_table(&dynamo, &table).await.expect("create table");
    let s3 = s3_client(&config);
    let bucket = unique_name("bucket");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
    (
        DynamoS3AttachmentStore::new(dynamo, table, s3.clone(), &bucket),
        s3,
        bucket,
    )
}

async fn keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    s3.list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_s3_and_dynamodb_attachment_store_honours_the_contract() {
    let (store, s3, bucket) = fresh_store().await;
    contract::attachment_store(&store).await;
    assert_eq!(
        keys(&s3, &bucket).await,
        Vec::<String>::new(),
        "deleting gave back every object"
    );
}

#[tokio::test]
async fn bytes_live_under_the_user_s_prefix_and_a_refused_upload_leaves_nothing() {
    let (store, s3, bucket) = fresh_store().await;
    let (alice, c1) = (
        UserId::parse("alice").unwrap(),
        ConversationId::parse("c1").unwrap(),
    );
    let attachments = Attachments::new(std::sync::Arc::new(store.clone()), 20);
    let notes = attachments
        .upload(&alice, &c1, "notes.txt", "text/plain", b"twelve bytes")
        .await
        .unwrap();
    assert_eq!(
        keys(&s3, &bucket).await,
        [format!("attachments/alice/c1/{}", notes.id)]
    );
    let over = attachments
        .upload(&alice, &c1, "more.txt", "text/plain", b"nine more")
        .await
        .unwrap_err();
    assert!(over.to_string().contains("storage limit"), "{over}");
    assert_eq!(
        keys(&s3, &bucket).await.len(),
        1,
        "the refused upload's object was removed"
    );
    assert_eq!(store.usage(&alice).await.unwrap(), 12);
    let (_, bytes) = attachments.read(&alice, &c1, &notes.id).await.unwrap();
    assert_eq!(bytes, b"twelve bytes");
    let bob = UserId::parse("bob").unwrap();
    assert!(attachments.read(&bob, &c1, &notes.id).await.is_err());
}
