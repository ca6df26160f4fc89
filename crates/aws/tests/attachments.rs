//! The S3 and DynamoDB attachment store on moto server: the shared contract (a user's id reaches nothing
//! of another user's), the keys the bytes and metadata live under, and a refused put that leaves no
//! object behind; uploads in flight through presigned `PUT`s and download links (presigned `GET`s)
//! fetched with reqwest, as a browser makes them.

use std::sync::Arc;

use serverless_openclaw_aws::config::s3_client;
use serverless_openclaw_aws::conversations::create_table;
use serverless_openclaw_aws::{DynamoS3AttachmentStore, S3PendingUploads};
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

#[tokio::test]
async fn presigned_download_links_honour_the_contract() {
    let (store, s3, bucket) = fresh_store().await;
    let store = Arc::new(store);
    let http = reqwest::Client::new();
    let user_key = format!("/{bucket}/attachments/dl-alice/");
    contract::attachment_links(store.clone(), store, |link| {
        let (http, user_key) = (http.clone(), user_key.clone());
        async move {
            assert!(
                link.url.contains(&user_key)
                    && link.url.contains("X-Amz-Signature=")
                    && link.url.contains("X-Amz-Expires=900"),
                "a presigned URL of the user's attachment key: {}",
                link.url
            );
            let answer = http.get(&link.url).send().await.expect("moto answers");
            if !answer.status().is_success() {
                return None;
            }
            let header = |name| {
                answer.headers()[name]
                    .to_str()
                    .expect("an ASCII header")
                    .to_owned()
            };
            Some(contract::Fetched {
                content_type: header("content-type"),
                content_disposition: header("content-disposition"),
                bytes: answer.bytes().await.expect("the body").to_vec(),
            })
        }
    })
    .await;
    assert_eq!(
        keys(&s3, &bucket).await,
        Vec::<String>::new(),
        "nothing is left"
    );
}

#[tokio::test]
async fn presigned_uploads_honour_the_contract_and_leave_nothing_behind() {
    let (store, s3, bucket) = fresh_store().await;
    let uploads = Arc::new(S3PendingUploads::new(s3.clone(), &bucket));
    let http = reqwest::Client::new();
    let user_prefix = format!("/{bucket}/uploads/up-alice/");
    contract::pending_uploads(Arc::new(store), uploads, |target, bytes| {
        let (http, user_prefix) = (http.clone(), user_prefix.clone());
        async move {
            assert_eq!(target.method, "PUT");
            assert!(
                target.url.contains(&user_prefix)
                    && target.url.contains("X-Amz-Signature=")
                    && target.url.contains("X-Amz-Expires=600"),
                "a presigned URL of the user's upload key: {}",
                target.url
            );
            let mut request = http.put(&target.url).body(bytes);
            for (name, value) in &target.headers {
                request = request.header(name, value);
            }
            let answer = request.send().await.expect("moto answers");
            answer.status().is_success()
        }
    })
    .await;
    assert_eq!(
        keys(&s3, &bucket).await,
        Vec::<String>::new(),
        "no upload and no attachment is left"
    );
}

#[tokio::test]
async fn a_presigned_put_signs_the_declared_size() {
    let (_, s3, bucket) = fresh_store().await;
    let uploads = S3PendingUploads::new(s3, &bucket);
    let target = serverless_openclaw_core::ports::PendingUploads::target(
        &uploads,
        &UserId::parse("alice").unwrap(),
        &ConversationId::parse("c1").unwrap(),
        &serverless_openclaw_core::ids::AttachmentId::generate(),
        1234,
        std::time::Duration::from_secs(600),
    )
    .await
    .unwrap();
    let signed = target
        .url
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
        .expect("signed headers");
    assert!(
        signed.split("%3B").any(|h| h == "content-length"),
        "S3 refuses a body of another size: {signed}"
    );
    assert!(
        target
            .headers
            .iter()
            .all(|(name, _)| !name.eq_ignore_ascii_case("content-length")),
        "the browser sets Content-Length itself: {:?}",
        target.headers
    );
}
