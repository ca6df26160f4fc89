//! `docs/configuration.md` against the code: every `SERVERLESS_OPENCLAW_*` variable that the crates,
//! the runner, the CDK app, the Makefile, the scripts or the web app read is documented (deployment
//! variables may be in `docs/deployment.md` instead), and the configuration page names no variable the
//! code does not read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const PREFIX: &str = "SERVERLESS_OPENCLAW_";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// The variable names in `text` (a trailing `_`, as in a prefix being built, is not part of a name).
fn names(text: &str, into: &mut BTreeSet<String>) {
    for (at, _) in text.match_indices(PREFIX) {
        let rest = &text[at + PREFIX.len()..];
        let len = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        let suffix = rest[..len].trim_end_matches('_');
        if !suffix.is_empty() {
            into.insert(format!("{PREFIX}{suffix}"));
        }
    }
}

/// The names in the source files under `path`, leaving out dependencies, build output and tests
/// (a variable one test hands another is not configuration).
fn scan(path: &Path, into: &mut BTreeSet<String>) {
    let name = path.file_name().unwrap().to_string_lossy();
    if path.is_dir() {
        if [
            "node_modules",
            "dist",
            "target",
            "test",
            "tests",
            "fixtures",
        ]
        .contains(&name.as_ref())
        {
            return;
        }
        for entry in std::fs::read_dir(path).unwrap() {
            scan(&entry.unwrap().path(), into);
        }
    } else if !name.contains(".test.")
        && let Ok(text) = std::fs::read_to_string(path)
    {
        names(&text, into);
    }
}

#[test]
fn every_variable_the_code_reads_is_documented_and_no_other() {
    let root = repo();
    let mut code = BTreeSet::new();
    for dir in std::fs::read_dir(root.join("crates")).unwrap() {
        let dir = dir.unwrap().path();
        scan(&dir.join("src"), &mut code);
        if dir.join("examples").is_dir() {
            scan(&dir.join("examples"), &mut code);
        }
    }
    for path in [
        "runner/runner.mjs",
        "runner/lib",
        "infra/lib",
        "infra/bin",
        "Makefile",
        "scripts",
        "web/src",
    ] {
        scan(&root.join(path), &mut code);
    }
    assert!(
        code.contains("SERVERLESS_OPENCLAW_TURN_TIMEOUT_SECS") && code.len() > 30,
        "the scan found the code's variables: {code:?}"
    );

    let read = |doc: &str| {
        let mut found = BTreeSet::new();
        names(
            &std::fs::read_to_string(root.join("docs").join(doc)).unwrap(),
            &mut found,
        );
        found
    };
    let configuration = read("configuration.md");
    let deployment = read("deployment.md");
    let undocumented: Vec<_> = code
        .iter()
        .filter(|n| !configuration.contains(*n) && !deployment.contains(*n))
        .collect();
    assert!(
        undocumented.is_empty(),
        "read by the code, missing from docs/configuration.md: {undocumented:?}"
    );
    let stale: Vec<_> = configuration.difference(&code).collect();
    assert!(
        stale.is_empty(),
        "in docs/configuration.md, read by no code: {stale:?}"
    );
}
