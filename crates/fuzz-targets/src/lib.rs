//! The fuzz targets of serverless-openclaw's parsers: what a client, Telegram or a token's bearer can
//! put in front of the code. Each module has one `run(data: &[u8])` that feeds `data` to a parser and
//! asserts what must hold for any input (a panic is a finding), beyond not crashing.
//!
//! The same functions run in two ways, so neither has logic of its own:
//! - coverage-guided, by cargo-fuzz and libFuzzer (`fuzz/fuzz_targets/*.rs`, `make fuzz`), for the
//!   long runs recorded in `docs/benchmarks.md`;
//! - property-based, by `tests/properties.rs` (proptest, on the stable toolchain, in `make test`),
//!   which feeds them generated inputs of the right shape and every committed seed and regression
//!   input under `fuzz/`.
//!
//! - [`client_frame`]: a WebSocket client frame (`parse_client_frame`).
//! - [`rest_bodies`]: the REST request bodies (`server::rest`'s body parsers).
//! - [`telegram_update`]: a Telegram update (webhook body, `getUpdates` entry) and what the bot reads
//!   from it: the command in a message's text, the button in a press's `callback_data`.
//! - [`telegram_render`]: the Markdown → Telegram HTML renderer, against the strict reader of
//!   Telegram's HTML (`testkit::telegram_html`).
//! - [`jwt`]: the Cognito JWT verifier with moto's fixed JWKS (nothing fetched).
//! - [`skill_upload`]: a skill upload, as a zip of its folder and as a `SKILL.md` (`core::skills`).

pub mod client_frame;
pub mod jwt;
pub mod rest_bodies;
pub mod skill_upload;
pub mod telegram_render;
pub mod telegram_update;

/// A target's body: one input in, a panic for a finding.
pub type Target = fn(&[u8]);

/// Every target by name, as `fuzz/fuzz_targets/` and `fuzz/seeds/` name them.
pub const TARGETS: [(&str, Target); 6] = [
    ("client_frame", client_frame::run),
    ("rest_bodies", rest_bodies::run),
    ("telegram_update", telegram_update::run),
    ("telegram_render", telegram_render::run),
    ("jwt", jwt::run),
    ("skill_upload", skill_upload::run),
];
