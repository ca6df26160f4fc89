//! The fuzz targets as property tests, on the stable toolchain (`make test`): each target's `run` fed
//! inputs of the right shape from proptest generators (valid and invalid ids, every field in every
//! JSON type, commands, button data, Markdown markers, tokens signed with moto's key), raw bytes, and
//! every committed seed and regression input under `fuzz/`. The long coverage-guided runs are
//! `make fuzz` (`docs/development.md`).

use std::path::PathBuf;

use jsonwebtoken::{Algorithm, EncodingKey};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};
use serverless_openclaw_core::domain::MAX_MESSAGE_BYTES;
use serverless_openclaw_fuzz_targets::{
    TARGETS, client_frame, jwt, rest_bodies, skill_upload, telegram_render, telegram_update,
};
use serverless_openclaw_testkit::cognito::{MOTO_JWKS, MOTO_KEY_ID, moto_key, sign};
use serverless_openclaw_testkit::telegram_html::MARKDOWN_PIECES;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // A failure is reported with its input; nothing is written into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// The building blocks are boxed: unboxed, their value trees nest into stack frames that overflow a test
// thread's stack in a debug build.

/// A JSON value of any type but an object (a field of the wrong type, or of the right one by chance).
fn scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        vec(any::<u8>(), 0..3).prop_map(|v| json!(v)),
    ]
    .boxed()
}

/// An id: valid, at the length limit, or with what ids must not have.
fn id() -> BoxedStrategy<String> {
    prop_oneof![
        6 => "[A-Za-z0-9_-]{1,64}",
        1 => "[A-Za-z0-9_-]{65}",
        1 => select(vec!["", "../etc", "a/b", "a.b", "a b", "é", "default"]).prop_map(str::to_owned),
    ]
    .boxed()
}

/// Text: any, blank, or markup-like.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        "\\PC{0,40}",
        "[ \t\r\n]{0,4}",
        "[<>&\"'/\\\\*_`\\[\\]()#@:.a-z ]{0,30}"
    ]
    .boxed()
}

/// A field: mostly `value` (so that most inputs get past the first check), else a value of another
/// type, or nothing.
fn field(value: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        6 => value.prop_map(Some),
        1 => scalar().prop_map(Some),
        1 => Just(None),
    ]
    .boxed()
}

/// A JSON object of the given fields (those present), and maybe one the parsers do not know.
fn object(fields: Vec<(&'static str, Option<Value>)>, extra: Option<Value>) -> Value {
    let mut object: Map<String, Value> = fields
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_owned(), value?)))
        .collect();
    if let Some(extra) = extra {
        object.insert("unexpected".into(), extra);
    }
    Value::Object(object)
}

fn client_frame_json() -> impl Strategy<Value = Value> {
    let action = select(vec!["sendMessage", "cancel", "ping", "dance"]).prop_map(Value::from);
    let message = prop_oneof![
        8 => text().prop_map(Value::from),
        1 => (MAX_MESSAGE_BYTES - 1..=MAX_MESSAGE_BYTES + 1).prop_map(|n| json!("m".repeat(n))),
    ];
    let attachments =
        prop::collection::vec(id().prop_map(Value::from), 0..=12).prop_map(Value::from);
    (
        field(action),
        field(id().prop_map(Value::from)),
        field(id().prop_map(Value::from)),
        field(message),
        field(attachments),
        option::of(scalar()),
    )
        .prop_map(
            |(action, conversation, client_message, message, attachments, extra)| {
                object(
                    vec![
                        ("action", action),
                        ("conversationId", conversation),
                        ("clientMessageId", client_message),
                        ("message", message),
                        ("attachments", attachments),
                    ],
                    extra,
                )
            },
        )
}

fn model_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9._:/@+-]{1,20}",
        " [a-z0-9-]{1,10} ",
        "\\PC{0,10}",
        "m{129}"
    ]
}

fn provider() -> impl Strategy<Value = String> {
    select(vec![
        "anthropic",
        "openai",
        "deepseek",
        "bedrock",
        "openai-compatible",
        "azure",
        "OpenAI",
    ])
    .prop_map(str::to_owned)
}

fn base_url() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "https://api.example.com/v1",
            "http://127.0.0.1:9/v1/",
            "http://[::1]",
            "http://[::ffff:169.254.169.254]/",
            "http://169.254.169.254/latest",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://metadata.google.internal",
            "https://h//",
            "https://h/?q=1",
            "https://u:p@h",
            "ftp://h",
            " https://h.example ",
        ])
        .prop_map(str::to_owned),
        "https?://[a-z0-9.:\\[\\]/%@_-]{0,30}",
    ]
}

fn model_settings() -> BoxedStrategy<Value> {
    let region = prop_oneof![
        select(vec!["us-east-1", "eu-central-1", "Europe", "us-east-"]).prop_map(str::to_owned),
        "[a-z0-9-]{0,12}",
    ];
    (
        field(provider().prop_map(Value::from)),
        field(model_id().prop_map(Value::from)),
        field(base_url().prop_map(Value::from)),
        field(region.prop_map(Value::from)),
    )
        .prop_map(|(provider, model, base_url, region)| {
            object(
                vec![
                    ("provider", provider),
                    ("model", model),
                    ("baseUrl", base_url),
                    ("region", region),
                ],
                None,
            )
        })
        .boxed()
}

/// A body of one of the routes (`POST`/`PATCH` conversation, conversation settings, settings), or one
/// mixing their fields.
fn rest_body() -> impl Strategy<Value = Value> {
    let title = prop_oneof![text(), "x{199,201}", "[ ]{0,2}\\PC{1,10}[ ]{0,2}"];
    let thinking = select(vec!["off", "minimal", "low", "medium", "high", "hard"]);
    let api_key = prop_oneof![
        "[!-~]{1,20}".prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
        Just(Value::Null)
    ];
    let api_keys = btree_map(provider(), api_key, 0..3).prop_map(|keys| json!(keys));
    let model = prop_oneof![model_settings(), Just(Value::Null)];
    (
        field(title.prop_map(Value::from)),
        (
            field(model_id().prop_map(Value::from)),
            field(thinking.prop_map(Value::from)),
        ),
        (field(model), field(api_keys)),
        option::of(scalar()),
        0..4,
    )
        .prop_map(
            |(title, (model_id, thinking), (model, api_keys), extra, route)| match route {
                0 => object(vec![("title", title)], extra),
                1 => object(vec![("model", model_id), ("thinking", thinking)], None),
                2 => object(vec![("model", model), ("apiKeys", api_keys)], None),
                _ => object(
                    vec![("title", title), ("model", model_id), ("apiKeys", api_keys)],
                    extra,
                ),
            },
        )
}

/// What a user types: commands with a bot name and arguments, or anything.
fn message_text() -> BoxedStrategy<String> {
    prop_oneof![
        2 => "[ \t\n]{0,2}/(start|help|link|unlink|new|model|think|stop|compact|status|usage|reset|frob|START)(@[a-z_]{0,8})?([ \t\n]([0-9a-z \t]{0,16}|\\PC{0,20}))?",
        1 => text(),
    ]
    .boxed()
}

/// A button's `callback_data`: a kind and a value of the shapes the bot makes (or nearly), or anything.
fn callback_data() -> impl Strategy<Value = String> {
    let kind = select(vec!["stop", "retry", "model", "delete", ""]);
    let separator = prop_oneof![4 => Just(":"), 1 => Just(""), 1 => Just("::")];
    prop_oneof![
        4 => (kind, separator, prop_oneof![id(), model_id()])
            .prop_map(|(kind, separator, value)| format!("{kind}{separator}{value}")),
        1 => "\\PC{0,70}",
    ]
}

/// A message as Telegram sends it (the update's own types are right: the raw-bytes test and the fuzzer
/// try wrong ones), with a command or any text.
fn telegram_message() -> BoxedStrategy<Value> {
    let from = (any::<i64>(), any::<bool>(), text())
        .prop_map(|(id, is_bot, name)| json!({"id": id, "is_bot": is_bot, "first_name": name}));
    let chat = (any::<i64>(), select(vec!["private", "group", "channel"]))
        .prop_map(|(id, kind)| json!({"id": id, "type": kind}));
    (
        any::<i64>(),
        option::of(from),
        chat.prop_map(Some),
        option::weighted(0.8, message_text().prop_map(Value::from)),
        option::of(text().prop_map(Value::from)),
    )
        .prop_map(|(id, from, chat, text, caption)| {
            object(
                vec![
                    ("message_id", Some(json!(id))),
                    ("from", from),
                    ("chat", chat),
                    ("text", text),
                    ("caption", caption),
                ],
                None,
            )
        })
        .boxed()
}

fn telegram_update_json() -> impl Strategy<Value = Value> {
    let message =
        (telegram_message(), option::of(telegram_message())).prop_map(|(mut message, replied)| {
            if let Some(replied) = replied {
                message["reply_to_message"] = replied;
            }
            message
        });
    let press = (
        text(),
        any::<i64>(),
        option::of(telegram_message()),
        option::weighted(0.9, callback_data().prop_map(Value::from)),
    )
        .prop_map(|(id, from, message, data)| {
            object(
                vec![
                    ("id", Some(json!(id))),
                    ("from", Some(json!({"id": from}))),
                    ("message", message),
                    ("data", data),
                ],
                None,
            )
        });
    (
        any::<i64>(),
        option::of(message),
        option::of(press),
        option::of(scalar()),
    )
        .prop_map(|(update_id, message, press, extra)| {
            object(
                vec![
                    ("update_id", Some(json!(update_id))),
                    ("message", message),
                    ("callback_query", press),
                ],
                extra,
            )
        })
}

fn markdown(max_pieces: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        vec(select(MARKDOWN_PIECES.to_vec()), 0..max_pieces).prop_map(|pieces| pieces.concat()),
        "\\PC{0,200}",
    ]
}

/// A claim: mostly `right`, else one of `wrong` (other values and types), or absent.
fn claim(right: Value, wrong: Vec<Value>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        8 => Just(Some(right)),
        1 => select(wrong).prop_map(Some),
        1 => Just(None),
    ]
    .boxed()
}

/// Claims around the verifier's rules: each mostly right (about a quarter of the tokens are valid),
/// else wrong, of another type or absent.
fn claims() -> impl Strategy<Value = Value> {
    let now = jwt::now() as i64;
    let exp = claim(
        json!(now + 3600),
        vec![
            json!(now - 3600),
            json!(now - 30),
            json!(-5),
            json!(1.5e9),
            json!(10_i64.pow(15)),
            json!(u64::MAX),
            json!((now + 3600).to_string()),
        ],
    );
    let nbf = prop_oneof![
        Just(None),
        select(vec![
            json!(now - 3600),
            json!(now + 3600),
            json!("soon"),
            json!(-5),
            Value::Null
        ])
        .prop_map(Some),
    ];
    let sub = prop_oneof![8 => "[A-Za-z0-9_-]{1,64}".prop_map(Value::from), 1 => id().prop_map(Value::from), 1 => scalar()];
    let other_pool = "https://cognito-idp.us-east-1.amazonaws.com/other";
    (
        (
            claim(
                json!(jwt::ISSUER),
                vec![json!(other_pool), json!(7), Value::Null],
            ),
            option::weighted(0.9, sub),
            claim(
                json!(jwt::CLIENT_ID),
                vec![json!("other-client"), json!([jwt::CLIENT_ID])],
            ),
            claim(json!("id"), vec![json!("access"), json!(true)]),
        ),
        (
            exp,
            nbf,
            claim(json!("alice"), vec![json!(""), json!(5)]),
            claim(json!("alice"), vec![Value::Null, json!({})]),
        ),
    )
        .prop_map(
            |((iss, sub, aud, token_use), (exp, nbf, username, cognito_username))| {
                object(
                    vec![
                        ("iss", iss),
                        ("sub", sub),
                        ("aud", aud),
                        ("token_use", token_use),
                        ("exp", exp),
                        ("nbf", nbf),
                        ("username", username),
                        ("cognito:username", cognito_username),
                    ],
                    None,
                )
            },
        )
}

/// A zip of a skill's folder: its `SKILL.md` (naming the target's skill or another) and entries whose
/// names mix good parts with `..`, absolute and backslashed ones, of any content.
fn skill_zip() -> impl Strategy<Value = Vec<u8>> {
    let part = select(vec![
        "a", "b.md", "..", ".", "", "/", "\\", "C:", "__MACOSX", "x y", "SKILL.md",
    ]);
    let entry_name = vec(part, 1..4).prop_map(|parts| parts.join("/"));
    let entries = vec((entry_name, vec(any::<u8>(), 0..64)), 0..6);
    let named = select(vec![skill_upload::NAME, "other-skill"]);
    (named, any::<bool>(), entries).prop_map(|(name, nested, entries)| {
        use std::io::Write;
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        let top = if nested { "top/" } else { "" };
        let skill_md = format!("---\nname: {name}\ndescription: fuzzed\n---\n");
        let mut written = std::collections::BTreeSet::new();
        let all = std::iter::once((format!("{top}SKILL.md"), skill_md.into_bytes()))
            .chain(entries.into_iter().map(|(n, b)| (format!("{top}{n}"), b)));
        for (entry, bytes) in all {
            if written.insert(entry.clone()) && writer.start_file(entry, options).is_ok() {
                writer.write_all(&bytes).unwrap();
            }
        }
        writer.finish().unwrap().into_inner()
    })
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn skill_uploads_hold_their_invariants(zip in skill_zip()) {
        skill_upload::run(&zip);
    }

    #[test]
    fn client_frames_hold_their_invariants(frame in client_frame_json()) {
        client_frame::run(frame.to_string().as_bytes());
    }

    #[test]
    fn rest_bodies_hold_their_invariants(body in rest_body()) {
        rest_bodies::run(body.to_string().as_bytes());
    }

    #[test]
    fn telegram_updates_hold_their_invariants(update in telegram_update_json()) {
        telegram_update::run(update.to_string().as_bytes());
    }

    #[test]
    fn rendered_markdown_is_telegram_html_that_fits(markdown in markdown(60)) {
        telegram_render::run(markdown.as_bytes());
    }

    #[test]
    fn every_target_takes_any_bytes(data in vec(any::<u8>(), 0..256), text in "\\PC{0,64}") {
        for (_, run) in TARGETS {
            run(&data);
            run(text.as_bytes());
        }
    }
}

proptest! {
    #![proptest_config(config(40))]

    #[test]
    fn long_markdown_splits_into_telegram_html_that_fits(markdown in markdown(3000)) {
        telegram_render::run(markdown.as_bytes());
    }
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn a_token_signed_with_the_key_is_accepted_exactly_when_its_claims_hold(claims in claims()) {
        let token = sign(Algorithm::RS256, Some(MOTO_KEY_ID), &claims, &moto_key());
        let verdict = jwt::verdict(&token);
        prop_assert_eq!(verdict.is_ok(), jwt::claims_hold(&claims, jwt::now()), "{} {:?}", claims, verdict);
        jwt::run(token.as_bytes());
    }

    #[test]
    fn a_token_with_another_algorithm_or_key_id_is_refused(
        claims in claims(),
        header in select(vec!["unknown kid", "no kid", "RS512", "PS256", "HS256 with the public key", "none"]),
    ) {
        let key = moto_key();
        let token = match header {
            "unknown kid" => sign(Algorithm::RS256, Some("rotated"), &claims, &key),
            "no kid" => sign(Algorithm::RS256, None, &claims, &key),
            "RS512" => sign(Algorithm::RS512, Some(MOTO_KEY_ID), &claims, &key),
            "PS256" => sign(Algorithm::PS256, Some(MOTO_KEY_ID), &claims, &key),
            "HS256 with the public key" => sign(
                Algorithm::HS256,
                Some(MOTO_KEY_ID),
                &claims,
                &EncodingKey::from_secret(MOTO_JWKS.as_bytes()),
            ),
            _ => {
                let unsigned = sign(Algorithm::RS256, Some(MOTO_KEY_ID), &claims, &key);
                let payload = unsigned.split('.').nth(1).expect("payload");
                format!("eyJhbGciOiJub25lIiwia2lkIjoiZHVtbXkifQ.{payload}.")
            }
        };
        prop_assert!(jwt::verdict(&token).is_err(), "{}: {}", header, claims);
        jwt::run(token.as_bytes());
    }
}

/// The committed inputs of each target: its seeds (what the fuzzer starts from) and regressions
/// (inputs that once failed).
fn committed_inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    ["seeds", "regressions"]
        .into_iter()
        .filter_map(|kind| std::fs::read_dir(fuzz.join(kind).join(target)).ok())
        .flatten()
        .map(|entry| {
            let path = entry.expect("entry").path();
            let bytes = std::fs::read(&path).expect("read");
            (path, bytes)
        })
        .collect()
}

#[test]
fn every_target_takes_its_committed_seeds_and_regressions() {
    for (name, run) in TARGETS {
        let inputs = committed_inputs(name);
        assert!(!inputs.is_empty(), "fuzz/seeds/{name} is empty");
        for (path, bytes) in inputs {
            eprintln!("{}", path.display());
            run(&bytes);
        }
    }
}

#[test]
fn the_signed_jwt_seeds_are_accepted() {
    // They are what lets the fuzzer reach the claim checks after the signature: they must stay valid.
    let accepted = committed_inputs("jwt")
        .into_iter()
        .filter(|(_, token)| jwt::verdict(std::str::from_utf8(token).unwrap_or_default()).is_ok())
        .count();
    assert!(accepted >= 1, "no seed of fuzz/seeds/jwt is accepted");
}
