//! The Skills page in a real browser (Debian's Chromium driven by playwright-core, `web/e2e/skills.e2e.mjs`)
//! against local mode: a SKILL.md pasted and a zip uploaded are listed, a zip with `../x` is refused with the
//! server's message, a skill switched off stays off, one is deleted; afterwards the server holds exactly
//! what the page shows, in the owner's workspace.

mod support;

use serde_json::json;
use serverless_openclaw_cli::LOCAL_USER;
use serverless_openclaw_testkit::archives::zip_of;
use support::TOKEN;

#[tokio::test(flavor = "multi_thread")]
async fn the_skills_page_works_in_a_real_browser() {
    let (_fake, data, app) = support::spawn_for_browser().await;
    let files = tempfile::tempdir().unwrap();
    let helper = "---\nname: helper-skill\ndescription: Helps with things\n---\n# Helper\n";
    std::fs::write(
        files.path().join("helper-skill.zip"),
        zip_of(&[
            ("helper-skill/SKILL.md", helper.as_bytes()),
            ("helper-skill/notes.md", b"notes"),
        ]),
    )
    .unwrap();
    std::fs::write(
        files.path().join("escape.zip"),
        zip_of(&[("SKILL.md", helper.as_bytes()), ("../x", b"escape")]),
    )
    .unwrap();

    let (passed, report) = support::run_browser_script(
        "skills.e2e.mjs",
        vec![
            (
                "SERVERLESS_OPENCLAW_E2E_URL",
                app.url(&format!("/?token={TOKEN}")),
            ),
            (
                "SERVERLESS_OPENCLAW_E2E_FILES",
                files.path().display().to_string(),
            ),
        ],
    )
    .await;
    assert!(passed, "browser test failed\n{report}");
    assert!(
        support::screenshot_dir().join("skills.png").is_file(),
        "no skills.png\n{report}"
    );

    let (status, listed) = app.get("/api/skills").await;
    assert_eq!(status, 200);
    assert_eq!(
        listed["skills"],
        json!([{"name": "zeta-skill", "description": "ZETA-DESC does zeta things", "enabled": false,
            "userInvocable": true, "files": 1, "bytes": listed["skills"][0]["bytes"]}])
    );
    let skills = data
        .path()
        .join("workspaces")
        .join(LOCAL_USER)
        .join("skills");
    assert!(skills.join("zeta-skill/SKILL.md").is_file());
    assert!(!skills.join("helper-skill").exists());
    assert!(!data.path().join("workspaces").join("x").exists());
    app.stop().await;
}
