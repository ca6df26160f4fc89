//! `make doctor` (scripts/doctor.sh) against moto server: it reports what a deploy would find, and says
//! what is missing, without creating anything. Docker's line depends on the machine and is not checked.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serverless_openclaw_testkit::moto::{Moto, unique_name};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the doctor with no AWS settings from this machine, plus `env`.
fn doctor(home: &Path, env: &[(&str, String)]) -> (String, Output) {
    let mut command = Command::new(repo().join("scripts/doctor.sh"));
    for name in [
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
    ] {
        command.env_remove(name);
    }
    command
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("scripts/doctor.sh runs");
    (String::from_utf8_lossy(&output.stdout).into_owned(), output)
}

/// The AWS CLI the scripts use (`use_tool` in scripts/aws-env.sh: the one on PATH, else the pinned
/// one, installed into .tools/ on first use), found as they find it.
fn aws_cli() -> &'static Path {
    static AWS: OnceLock<PathBuf> = OnceLock::new();
    AWS.get_or_init(|| {
        let output = Command::new("bash")
            .args([
                "-c",
                "source scripts/aws-env.sh && use_tool awscli aws >&2 && command -v aws",
            ])
            .current_dir(repo())
            .output()
            .expect("bash runs");
        assert!(output.status.success(), "no AWS CLI: {output:?}");
        PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
    })
}

/// The AWS CLI, pointed at moto, for setting up what the doctor should find.
fn aws(moto: &Moto, args: &[&str]) {
    let status = Command::new(aws_cli())
        .args(args)
        .envs(moto.sdk_env())
        .output()
        .expect("the AWS CLI runs");
    assert!(status.status.success(), "aws {args:?}: {status:?}");
}

#[test]
fn the_doctor_reports_the_account_region_and_what_a_deploy_will_set_up() {
    let home = tempfile::tempdir().unwrap();
    let moto = Moto::shared();
    let stack = unique_name("Doctor");
    let mut env = moto.sdk_env();
    env.push(("SERVERLESS_OPENCLAW_STACK", stack.clone()));

    let (report, _) = doctor(home.path(), &env);
    assert!(
        report.contains(&format!("doctor (stack {stack})")),
        "{report}"
    );
    assert!(
        report.contains("ok       AWS region: us-east-1"),
        "{report}"
    );
    assert!(
        report.contains("ok       AWS credentials: account 123456789012"),
        "{report}"
    );
    assert!(
        report.contains("deploy   CDK bootstrap stack in us-east-1"),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "deploy   stack {stack} (created by the first deploy)"
        )),
        "{report}"
    );

    // Once the bootstrap and the stack exist, the doctor says so.
    let template = r#"{"Resources":{"Topic":{"Type":"AWS::SNS::Topic"}}}"#;
    for name in ["CDKToolkit", stack.as_str()] {
        aws(
            moto,
            &[
                "cloudformation",
                "create-stack",
                "--stack-name",
                name,
                "--template-body",
                template,
            ],
        );
    }
    let (report, _) = doctor(home.path(), &env);
    assert!(
        report.contains("ok       CDK bootstrap stack in us-east-1"),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "ok       stack {stack} exists (a deploy updates it)"
        )),
        "{report}"
    );
}

#[test]
fn without_credentials_or_region_the_doctor_says_what_to_set_and_fails() {
    let home = tempfile::tempdir().unwrap();
    let (report, output) = doctor(home.path(), &[]);
    assert!(!output.status.success(), "{report}");
    assert!(report.contains("MISSING  AWS region"), "{report}");
    assert!(report.contains("Set AWS_REGION"), "{report}");
    assert!(report.contains("MISSING  AWS credentials"), "{report}");
    assert!(
        report.contains("Fix the MISSING items above, then run make deploy."),
        "{report}"
    );
}
