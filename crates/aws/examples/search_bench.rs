//! `make bench` (search part): full-text search over one user's 10,000 messages (100 conversations of
//! 50 questions and 50 answers, about 200 and 800 characters) beside another user's 1,000, on both twins:
//! the SQLite store (FTS5, a file in a temp dir) and the DynamoDB store on moto server (loopback; the
//! data written as the store's items, see [`store_items`]), which must find the same messages. Each
//! query runs `REPS` times through `ConversationSearch`, what `GET /api/search` calls; the table gives
//! p50 and p95. For DynamoDB it also gives what the query reads of the `messagesByUser` index (from the
//! stored index items, sized the way DynamoDB counts them: pages of 1 MB, half a read unit per 4 KB),
//! which is what real DynamoDB's latency and bill follow; moto's own speed is not DynamoDB's.
//! Prints Markdown tables for `docs/benchmarks.md`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serverless_openclaw_aws::conversations::{DynamoConversationStore, create_table};
use serverless_openclaw_aws::search::MESSAGES_BY_USER;
use serverless_openclaw_core::domain::{
    Channel, NewAssistantMessage, NewUserMessage, Usage, title_from_message,
};
use serverless_openclaw_core::ids::{ClientMessageId, ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::ConversationStore;
use serverless_openclaw_core::search::{ConversationSearch, SearchQuery, indexed_text, word_start};
use serverless_openclaw_local::SqliteConversationStore;
use serverless_openclaw_testkit::measure::percentile;
use serverless_openclaw_testkit::moto::{Moto, unique_name};
use time::OffsetDateTime;

const CONVERSATIONS: usize = 100;
const TURNS_PER_CONVERSATION: usize = 50;
const OTHER_USERS_TURNS: usize = 500;
const LIMIT: usize = 20;
const REPS_LOCAL: usize = 50;
const REPS_MOTO: usize = 10;

/// The queries, and what each shows.
const QUERIES: [(&str, &str); 5] = [
    ("the", "in nearly every message"),
    ("quokka", "in 1 % of the messages (100), spread over time"),
    ("quokka rottnest", "two words, both in 10 messages"),
    ("zebra", "in the oldest message only"),
    ("xylophone", "in no message"),
];

/// A deterministic stream of words (xorshift), so every run stores the same text.
struct Words(u64);

const VOCABULARY: [&str; 48] = [
    "the", "agent", "message", "weather", "tomorrow", "please", "could", "you", "write", "summary",
    "project", "meeting", "notes", "list", "budget", "travel", "train", "hotel", "dinner",
    "recipe", "garden", "music", "book", "chapter", "idea", "question", "answer", "because",
    "should", "would", "about", "there", "where", "which", "number", "change", "people", "water",
    "light", "family", "school", "house", "street", "market", "river", "mountain", "island",
    "coffee",
];

impl Words {
    fn next(&mut self) -> &'static str {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        VOCABULARY[(self.0 % VOCABULARY.len() as u64) as usize]
    }

    /// A sentence-like text of about `chars` characters.
    fn text(&mut self, chars: usize) -> String {
        let mut text = String::new();
        while text.len() < chars {
            text.push_str(self.next());
            text.push(if self.0.is_multiple_of(9) { '.' } else { ' ' });
            if text.ends_with('.') {
                text.push(' ');
            }
        }
        text.trim_end().to_owned()
    }
}

/// The `n`th question of a user's history (0 is the oldest) and its answer, with the marker words of
/// [`QUERIES`] placed.
fn turn(words: &mut Words, n: usize) -> (String, String) {
    let mut question = words.text(200);
    let mut answer = words.text(800);
    if n == 0 {
        question.push_str(" A zebra crossing?");
    }
    if n % 50 == 7 {
        answer.push_str(" The quokka is a small marsupial.");
        if n % 500 == 7 {
            answer.push_str(" Quokkas live on Rottnest Island.");
        }
    }
    (question, answer)
}

/// One turn of the history: whose, in which conversation, the question and its answer.
struct Turn {
    user: UserId,
    conversation: ConversationId,
    n: usize,
    question: String,
    answer: String,
}

/// The whole history, oldest first: the benchmark user's conversation `c` holds turns `c*50 ..
/// c*50+50`, so conversation 0 holds the oldest message (the zebra); then another user's turns.
fn history() -> Vec<Turn> {
    let (owner, other) = (
        UserId::parse("owner").expect("id"),
        UserId::parse("someone-else").expect("id"),
    );
    let mut turns = Vec::new();
    let mut conversation = |user: &UserId, c: usize, range: std::ops::Range<usize>| {
        let id = ConversationId::parse(format!("c{c}")).expect("id");
        let mut words = Words(0x9e37_79b9_7f4a_7c15 ^ (c as u64 + 1));
        for n in range {
            let (question, answer) = turn(&mut words, n);
            turns.push(Turn {
                user: user.clone(),
                conversation: id.clone(),
                n,
                question,
                answer,
            });
        }
    };
    for c in 0..CONVERSATIONS {
        conversation(
            &owner,
            c,
            c * TURNS_PER_CONVERSATION..(c + 1) * TURNS_PER_CONVERSATION,
        );
    }
    conversation(&other, 0, 0..OTHER_USERS_TURNS);
    turns
}

/// Stores the history through the store, one message after the other.
async fn store_through(store: &dyn ConversationStore, history: &[Turn]) -> Duration {
    let started = Instant::now();
    for t in history {
        let asked = store
            .append_user_message(
                &t.user,
                &t.conversation,
                NewUserMessage {
                    id: MessageId::generate(),
                    client_message_id: ClientMessageId::parse(format!("m{}", t.n)).expect("id"),
                    content: t.question.clone(),
                    channel: Channel::Web,
                    created_at: OffsetDateTime::now_utc(),
                },
            )
            .await
            .expect("store a question");
        store
            .append_assistant_message(
                &t.user,
                &t.conversation,
                NewAssistantMessage {
                    id: MessageId::generate(),
                    reply_to: asked.message_id,
                    also_answers: Vec::new(),
                    content: t.answer.clone(),
                    channel: Channel::Web,
                    usage: Usage::default(),
                    cost_usd: None,
                    duration_ms: 1,
                    activity: None,
                    created_at: OffsetDateTime::now_utc(),
                },
            )
            .await
            .expect("store an answer");
    }
    started.elapsed()
}

/// Stores the history on DynamoDB with BatchWriteItem, as the items `DynamoConversationStore` writes
/// (`crates/aws/src/conversations.rs`: conversation and message items; the search attributes of
/// `crates/aws/src/search.rs`), less what search never reads (dedupe keys, tokens). moto copies the
/// whole table on every TransactWriteItems: 11,000 appends through the store had not finished there
/// after 44 minutes.
async fn store_items(client: &Client, table: &str, history: &[Turn]) -> Duration {
    let started = Instant::now();
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let n = |v: i64| AttributeValue::N(v.to_string());
    let now = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let mut items = Vec::new();
    let mut titled = std::collections::HashSet::new();
    for t in history {
        let conversation = (t.user.clone(), t.conversation.clone());
        if titled.insert(conversation) {
            items.push(HashMap::from([
                ("pk".to_owned(), s(&format!("USER#{}", t.user))),
                ("sk".to_owned(), s(&format!("CONV#{}", t.conversation))),
                ("title".to_owned(), s(&title_from_message(&t.question))),
                ("createdAt".to_owned(), n(now)),
                ("updatedAt".to_owned(), n(now)),
                (
                    "messageCount".to_owned(),
                    n(2 * TURNS_PER_CONVERSATION as i64),
                ),
            ]));
        }
        for (role, content) in [("user", &t.question), ("assistant", &t.answer)] {
            items.push(HashMap::from([
                (
                    "pk".to_owned(),
                    s(&format!("CONV#{}#{}", t.user, t.conversation)),
                ),
                (
                    "sk".to_owned(),
                    s(&format!("MSG#{}", MessageId::generate())),
                ),
                ("role".to_owned(), s(role)),
                ("content".to_owned(), s(content)),
                ("channel".to_owned(), s("web")),
                ("createdAt".to_owned(), n(now)),
                ("searchUser".to_owned(), s(t.user.as_str())),
                ("searchText".to_owned(), s(&indexed_text(content))),
            ]));
        }
    }
    for batch in items.chunks(25) {
        let mut pending: Vec<WriteRequest> = batch
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .expect("put"),
                    )
                    .build()
            })
            .collect();
        while !pending.is_empty() {
            let out = client
                .batch_write_item()
                .request_items(table, pending)
                .send()
                .await
                .expect("batch write");
            pending = out
                .unprocessed_items
                .and_then(|mut left| left.remove(table))
                .unwrap_or_default();
        }
    }
    started.elapsed()
}

/// Search times are fractions of a millisecond: one decimal.
fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Runs every query `reps` times; returns one row per query: hits, p50, p95.
async fn measure(search: &ConversationSearch, reps: usize) -> Vec<(usize, Duration, Duration)> {
    let owner = UserId::parse("owner").expect("id");
    let mut rows = Vec::new();
    for (query, _) in QUERIES {
        let mut times = Vec::with_capacity(reps);
        let mut hits = 0;
        for _ in 0..reps {
            let started = Instant::now();
            hits = search
                .search(&owner, query, LIMIT)
                .await
                .expect("search")
                .len();
            times.push(started.elapsed());
        }
        times.sort();
        rows.push((hits, percentile(&times, 50.0), percentile(&times, 95.0)));
    }
    rows
}

/// The owner's index items on DynamoDB, newest first (the order a search reads them in): each one's
/// size as DynamoDB counts it (attribute names and values) and its `searchText`.
async fn index_items(client: &Client, table: &str) -> Vec<(usize, String)> {
    let pages = client
        .query()
        .table_name(table)
        .index_name(MESSAGES_BY_USER)
        .scan_index_forward(false)
        .key_condition_expression("searchUser = :user")
        .expression_attribute_values(":user", AttributeValue::S("owner".into()))
        .into_paginator()
        .items()
        .send();
    let items: Vec<_> = pages.try_collect().await.expect("the index");
    items
        .iter()
        .map(|item| {
            let size = item
                .iter()
                .map(|(name, value)| {
                    name.len()
                        + match value {
                            AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                            _ => 0,
                        }
                })
                .sum();
            let text = match item.get("searchText") {
                Some(AttributeValue::S(text)) => text.clone(),
                _ => String::new(),
            };
            (size, text)
        })
        .collect()
}

/// What a search for `query` reads of the index: the items from the newest down to the one holding
/// the `LIMIT`th hit, or all of them (the same rule as the filter: `contains(searchText, " word")`).
fn index_bytes_read(items: &[(usize, String)], query: &str) -> usize {
    let query = SearchQuery::parse(query).expect("query");
    let mut read = 0;
    let mut hits = 0;
    for (size, text) in items {
        read += size;
        if query.words().iter().all(|w| text.contains(&word_start(w))) {
            hits += 1;
            if hits == LIMIT {
                break;
            }
        }
    }
    read
}

fn table(title: &str, rows: &[(usize, Duration, Duration)], index: Option<&[(usize, String)]>) {
    println!("{title}");
    if index.is_some() {
        println!("| query | what it shows | hits | p50 | p95 | index read | pages | read units |");
        println!("|---|---|---|---|---|---|---|---|");
    } else {
        println!("| query | what it shows | hits | p50 | p95 |");
        println!("|---|---|---|---|---|");
    }
    for ((query, what), (hits, p50, p95)) in QUERIES.iter().zip(rows) {
        let mut row = format!(
            "| `{query}` | {what} | {hits} | {} | {} |",
            ms(*p50),
            ms(*p95)
        );
        if let Some(items) = index {
            let bytes = index_bytes_read(items, query);
            row.push_str(&format!(
                " {:.1} MB | {} | {} |",
                bytes as f64 / 1_000_000.0,
                bytes.div_ceil(1_000_000),
                // Eventually consistent: half a read unit per 4 KB, summed per page.
                bytes.div_ceil(4096).div_ceil(2)
            ));
        }
        println!("{row}");
    }
    println!();
}

#[tokio::main]
async fn main() {
    let history = history();
    println!(
        "search over {} messages of one user (and {} of another), {LIMIT} hits at most\n",
        2 * CONVERSATIONS * TURNS_PER_CONVERSATION,
        2 * OTHER_USERS_TURNS
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = Arc::new(
        SqliteConversationStore::open(&dir.path().join("bench.sqlite3")).expect("database"),
    );
    let stored = store_through(sqlite.as_ref(), &history).await;
    println!(
        "SQLite: stored through the store in {:.1} s",
        stored.as_secs_f64()
    );
    let local = measure(&ConversationSearch::new(sqlite), REPS_LOCAL).await;
    table(
        &format!("SQLite (FTS5), {REPS_LOCAL} runs each:"),
        &local,
        None,
    );

    let client = Client::new(&Moto::shared().sdk_config());
    let name = unique_name("search-bench");
    create_table(&client, &name).await.expect("table");
    let stored = store_items(&client, &name, &history).await;
    println!(
        "DynamoDB on moto: stored with BatchWriteItem in {:.1} s",
        stored.as_secs_f64()
    );
    let dynamo = Arc::new(DynamoConversationStore::new(client.clone(), &name));
    let aws = measure(&ConversationSearch::new(dynamo), REPS_MOTO).await;
    let index = index_items(&client, &name).await;
    table(
        &format!("DynamoDB on moto (loopback), {REPS_MOTO} runs each:"),
        &aws,
        Some(&index),
    );
    // The same data, the same rule: both twins must find the same number of messages.
    let hits = |rows: &[(usize, Duration, Duration)]| rows.iter().map(|r| r.0).collect::<Vec<_>>();
    assert_eq!(
        hits(&local),
        hits(&aws),
        "the twins found different messages"
    );
}
