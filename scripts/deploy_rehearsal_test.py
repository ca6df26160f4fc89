#!/usr/bin/env python3
"""The deploy rehearsal: `make deploy` (first deploy, a redeploy without the first deploy's answers, a
deploy with a Telegram bot token) and `make destroy`, each from a clean copy of the repository (its
tracked and unignored files: no web/dist, no node_modules, no target/), in an environment emptied to
what an owner's laptop has (HOME, PATH, USER, LANG, TERM, AWS_PROFILE, AWS_REGION). The Makefile and
scripts/*.sh run for real; what would reach AWS, build for minutes or download is a recorder on PATH
that logs its argv and answers like the real command: `aws` (with a small model of the account: stacks,
SSM parameters, log groups, the alarm subscription), `npx` (cdk), `npm`, `docker`, `cargo`, `rustup`,
`rustc`, `cargo-lambda`, `zig` and `df`. Node 24 is the one `make node` installed (linked in, so the
scripts' own check of it runs). `make check-scripts` runs it (a few seconds).

It asserts the calls, their order and key arguments, that each run exits 0 (or fails where it must),
and that neither the API key nor the bot token appears in any recorded argv. It runs on this machine's
bash; what only macOS's bash 3.2 would reject (the redeploy's empty `--parameters`, issue #14) is
scripts/check-bash32.py's job, which the redeploy test runs on the scripts it rehearses.

    python3 scripts/deploy_rehearsal_test.py
"""

import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
REGION = "eu-west-1"
STACK = "ServerlessOpenClaw"
SECRETS = f"/serverless-openclaw/{STACK}"
OWNER = "owner@example.com"
API_KEY = "sk-ant-rehearsal-key-0123456789"
BOT_TOKEN = "123456789:rehearsal-bot-token-ABCdef"
WEBHOOK_URL = "https://api.example.test/telegram/webhook"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK}-Alarms"

spec = importlib.util.spec_from_file_location("check_bash32", REPO / "scripts" / "check-bash32.py")
check_bash32 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_bash32)

# One program, linked under each recorded command's name. It appends {"argv", "cwd"} to calls.jsonl
# beside itself and answers from state.json (the account as the scripts have left it so far).
RECORDER = r'''#!/usr/bin/env python3
import json, os, stat, sys
from pathlib import Path

here = Path(os.path.abspath(sys.argv[0])).parent
name, args = Path(sys.argv[0]).name, sys.argv[1:]
with open(here / "calls.jsonl", "a") as log:
    log.write(json.dumps({"argv": [name] + args, "cwd": os.getcwd()}) + "\n")
state_file = here / "state.json"
state = json.loads(state_file.read_text())

def save():
    state_file.write_text(json.dumps(state))

def opt(flag):
    return args[args.index(flag) + 1] if flag in args else None

def fail(message, code=254):
    print(message, file=sys.stderr)
    sys.exit(code)

words = [a for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or not args[i - 1].startswith("--"))]
call = " ".join([name] + words[:2])

if call == "aws sts get-caller-identity":
    print(state["account"] if opt("--query") == "Account" else json.dumps({"Account": state["account"]}))
elif call == "aws configure get":
    sys.exit(1)
elif call == "aws cloudformation describe-stacks":
    if opt("--stack-name") not in state["stacks"]:
        fail(f"Stack with id {opt('--stack-name')} does not exist")
elif call == "aws cloudformation delete-stack":
    pass
elif call == "aws cloudformation wait":
    if "stack-delete" in state["fail"]:
        fail("Waiter StackDeleteComplete failed: DELETE_FAILED", 255)
    state["stacks"].remove(opt("--stack-name"))
    state["log_groups"] = state["log_groups"] + [f"/aws/lambda/{opt('--stack-name')}-CustomS3AutoDeleteObjects"]
elif call == "aws cloudformation describe-stack-events":
    print("SiteBucket\tThe bucket you tried to delete is not empty")
elif call == "aws ssm get-parameter":
    if opt("--name") not in state["params"]:
        fail("An error occurred (ParameterNotFound)")
elif call == "aws ssm put-parameter":
    value = opt("--value")
    if value.startswith("file://"):
        path = Path(value[len("file://"):])
        if stat.S_IMODE(path.stat().st_mode) != 0o600:
            fail(f"{path} is readable by others")
        value = path.read_text()
    state["params"][opt("--name")] = value
elif call == "aws ssm get-parameters-by-path":
    prefix = opt("--path") + "/"
    print("\t".join(n for n in state["params"] if n.startswith(prefix) and "/" not in n[len(prefix):]))
elif call == "aws ssm delete-parameter":
    del state["params"][opt("--name")]
elif call == "aws logs describe-log-groups":
    print("\t".join(g for g in state["log_groups"] if g.startswith(opt("--log-group-name-prefix"))))
elif call == "aws logs delete-log-group":
    state["log_groups"].remove(opt("--log-group-name"))
elif call == "aws sns list-subscriptions-by-topic":
    if opt("--topic-arn") != state["topic"]:
        fail(f"Topic {opt('--topic-arn')} does not exist")
    for email, arn in state["subscriptions"]:
        print(f"{email}\t{arn}")
elif call == "npx cdk bootstrap":
    if "CDKToolkit" not in state["stacks"]:
        state["stacks"].append("CDKToolkit")
elif call.startswith("npx cdk deploy"):
    stack = words[2]
    if stack not in state["stacks"]:
        state["stacks"].append(stack)
        state["log_groups"].append(f"/aws/lambda/{stack}-Agent")
    for i, a in enumerate(args):
        if a == "--parameters" and args[i + 1].startswith("OwnerEmail="):
            state["subscriptions"] = [[args[i + 1].split("=", 1)[1], "PendingConfirmation"]]
    outputs = Path(opt("--outputs-file"))
    outputs.parent.mkdir(parents=True, exist_ok=True)
    outputs.write_text(json.dumps({stack: {
        "WebUrl": "https://d111.cloudfront.example.test",
        "TelegramWebhookUrl": state["webhook_url"],
        "AlarmTopicArn": state["topic"],
    }}))
elif call == "npx cdk gc":
    if "gc" in state["fail"]:
        fail("gc failed", 1)
elif name == "npx":
    fail(f"recorder: unexpected call {args}", 2)
elif name == "aws":
    fail(f"recorder: unexpected call {args}", 2)
elif call == "docker info":
    if "docker-engine" in state["fail"]:
        fail("Cannot connect to the Docker daemon", 1)
elif call == "docker buildx inspect":
    print("Platforms: linux/amd64, linux/arm64")
elif call == "rustup target" and "--installed" in args:
    print("x86_64-unknown-linux-gnu")
elif name == "rustc":
    print(f"rustc {state['rustc']} (rehearsal)")
elif name == "cargo-lambda":
    print("cargo-lambda 1.9.2")
elif name == "zig":
    print("0.13.0")
elif name == "df":
    print("Filesystem 1024-blocks Used Available Capacity Mounted on")
    print(f"/dev/disk1 500000000 1000 {state['free_gb'] * 1024 * 1024} 1% /")
elif name == "cargo" and "set-webhook" in args:
    state["params"][f"/serverless-openclaw/{opt('--stack')}/telegram-webhook-secret"] = "generated"
save()
'''

RECORDED = ["aws", "npx", "npm", "docker", "cargo", "rustup", "rustc", "cargo-lambda", "zig", "df"]


class Rehearsal:
    """A recorder directory with its account state, and clean copies of the repository to run in."""

    def __init__(self, test):
        self.root = Path(tempfile.mkdtemp(prefix="deploy-rehearsal-"))
        test.addCleanup(shutil.rmtree, self.root, ignore_errors=True)
        self.bin = self.root / "bin"
        self.bin.mkdir()
        recorder = self.bin / "recorder"
        recorder.write_text(RECORDER)
        recorder.chmod(0o755)
        for name in RECORDED:
            (self.bin / name).symlink_to(recorder)
        self.state = {
            "account": ACCOUNT, "stacks": [], "params": {}, "log_groups": [], "subscriptions": [],
            "topic": TOPIC, "webhook_url": WEBHOOK_URL, "fail": [], "rustc": "1.95.0", "free_gb": 100,
        }
        self.save_state()
        self.home = self.root / "home"
        self.home.mkdir()
        self.clones = 0

    def save_state(self):
        (self.bin / "state.json").write_text(json.dumps(self.state))

    def load_state(self):
        self.state = json.loads((self.bin / "state.json").read_text())
        return self.state

    def fresh_clone(self):
        """The repository's tracked and unignored files, as `git clone` gives them, plus Node 24."""
        self.clones += 1
        clone = self.root / f"clone{self.clones}"
        files = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO, check=True, capture_output=True,
        ).stdout.decode().split("\0")
        for name in filter(None, files):
            source = REPO / name
            if source.is_file():
                (clone / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, clone / name)
        (clone / ".tools").mkdir()
        (clone / ".tools" / "node").symlink_to((REPO / ".tools" / "node").resolve())
        return clone

    def run(self, clone, target, **settings):
        """`make <target>` in clone with a laptop's environment plus settings; returns (result, calls)."""
        (self.bin / "calls.jsonl").write_text("")
        env = {
            "HOME": str(self.home), "PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin", "USER": "owner",
            "LANG": "C.UTF-8", "TERM": "xterm-256color", "AWS_PROFILE": "owner", "AWS_REGION": REGION,
        }
        env.update(settings)
        result = subprocess.run(
            ["make", "--no-print-directory", target], cwd=clone, env=env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=120,
        )
        lines = (self.bin / "calls.jsonl").read_text().splitlines()
        return result, [json.loads(line)["argv"] for line in lines]


class DeployRehearsal(unittest.TestCase):
    def assert_ok(self, result):
        self.assertEqual(result.returncode, 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")

    def assert_in_order(self, calls, expected):
        """Each expected argv prefix is found, in this order, among the calls."""
        position = 0
        for prefix in expected:
            while position < len(calls) and calls[position][: len(prefix)] != prefix:
                position += 1
            self.assertLess(position, len(calls), f"{prefix} not found in order in:\n" + "\n".join(map(str, calls)))
            position += 1

    def call(self, calls, prefix):
        found = [argv for argv in calls if argv[: len(prefix)] == prefix]
        self.assertEqual(len(found), 1, f"{prefix} in {calls}")
        return found[0]

    def assert_no_secret(self, calls):
        for argv in calls:
            for secret in (API_KEY, BOT_TOKEN):
                self.assertFalse(any(secret in arg for arg in argv), f"a secret is on the command line: {argv}")

    def test_deploy_redeploy_telegram_and_destroy_from_clean_clones(self):
        rehearsal = Rehearsal(self)
        clone = rehearsal.fresh_clone()
        everything = []

        # First deploy: the answers come from the environment.
        result, calls = rehearsal.run(clone, "deploy", OWNER_EMAIL=OWNER, SERVERLESS_OPENCLAW_LLM_API_KEY=API_KEY)
        self.assert_ok(result)
        everything += calls
        cdk_deploy = ["npx", "cdk", "deploy", STACK, "--require-approval", "never"]
        self.assert_in_order(calls, [
            ["aws", "sts", "get-caller-identity"],
            ["docker", "buildx", "inspect"],
            ["rustup", "target", "add", "aarch64-unknown-linux-gnu"],
            ["aws", "cloudformation", "describe-stacks", "--stack-name", STACK],
            ["aws", "ssm", "put-parameter", "--name", f"{SECRETS}/anthropic-api-key", "--type", "SecureString"],
            ["npm", "--prefix", "web", "ci"],
            ["npm", "--prefix", "web", "run", "build"],
            ["npm", "--prefix", "infra", "ci"],
            ["npx", "cdk", "bootstrap", "--no-notices", f"aws://{ACCOUNT}/{REGION}"],
            cdk_deploy,
            ["npx", "cdk", "gc", f"aws://{ACCOUNT}/{REGION}", "--unstable=gc", "--type=ecr", "--action=full",
             "--rollback-buffer-days=1", "--confirm=false"],
            ["aws", "sns", "list-subscriptions-by-topic", "--topic-arn", TOPIC],
        ])
        deploy = self.call(calls, cdk_deploy)
        self.assertIn(f"stackName={STACK}", deploy)
        self.assertEqual([deploy[i + 1] for i, a in enumerate(deploy) if a == "--parameters"], [f"OwnerEmail={OWNER}"])
        self.assertFalse([argv for argv in calls if argv[0] == "cargo"], "no bot token: no webhook")
        self.assertEqual(rehearsal.load_state()["params"], {f"{SECRETS}/anthropic-api-key": API_KEY})
        self.assertIn("First sign-in (owner)", result.stdout)
        self.assertIn("Alarms: NOT confirmed yet", result.stdout)
        self.assertIn(OWNER, result.stdout)
        self.assertIn("Telegram: no bot token stored", result.stdout)

        # The owner confirms the alarm email; a redeploy without the first deploy's answers keeps the
        # stored key, passes no --parameters (what bash 3.2 aborted on) and still updates the bootstrap.
        state = rehearsal.load_state()
        state["subscriptions"] = [[OWNER, f"{TOPIC}:0c2f"]]
        rehearsal.save_state()
        result, calls = rehearsal.run(clone, "deploy")
        self.assert_ok(result)
        everything += calls
        self.assertEqual(check_bash32.problems("deploy.sh", (clone / "scripts" / "deploy.sh").read_text()), [])
        self.assert_in_order(calls, [["npx", "cdk", "bootstrap"], cdk_deploy])
        self.assertNotIn("--parameters", self.call(calls, cdk_deploy))
        self.assertFalse([argv for argv in calls if argv[:3] == ["aws", "ssm", "put-parameter"]])
        self.assertFalse([argv for argv in calls if argv[0] == "npm"], "web and infra are installed once")
        self.assertNotIn("First sign-in", result.stdout)
        self.assertIn(f"Alarms: emailed to {OWNER} (subscription confirmed)", result.stdout)

        # A deploy with a bot token stores it and registers the webhook after the stack is up.
        result, calls = rehearsal.run(clone, "deploy", TELEGRAM_BOT_TOKEN=BOT_TOKEN)
        self.assert_ok(result)
        everything += calls
        self.assert_in_order(calls, [
            ["aws", "ssm", "put-parameter", "--name", f"{SECRETS}/telegram-bot-token"],
            cdk_deploy,
            ["aws", "ssm", "get-parameter", "--name", f"{SECRETS}/telegram-bot-token"],
            ["cargo", "run", "--quiet", "--release", "-p", "serverless-openclaw-cli", "--features", "aws", "--", "telegram", "set-webhook",
             "--url", WEBHOOK_URL, "--stack", STACK],
        ])
        self.assertEqual(rehearsal.load_state()["params"][f"{SECRETS}/telegram-bot-token"], BOT_TOKEN)
        self.assertIn(f"Telegram: webhook registered at {WEBHOOK_URL}", result.stdout)

        # Destroy from another clean clone: no web/dist, nothing built; the stack goes first, then the
        # webhook, the secrets and the leftover log groups.
        result, calls = rehearsal.run(rehearsal.fresh_clone(), "destroy", CONFIRM=STACK)
        self.assert_ok(result)
        everything += calls
        self.assert_in_order(calls, [
            ["aws", "cloudformation", "delete-stack", "--stack-name", STACK],
            ["aws", "cloudformation", "wait", "stack-delete-complete", "--stack-name", STACK],
            ["cargo", "run", "--quiet", "--release", "-p", "serverless-openclaw-cli", "--features", "aws", "--", "telegram", "delete-webhook",
             "--stack", STACK],
            ["aws", "ssm", "delete-parameter"],
            ["aws", "logs", "delete-log-group"],
        ])
        self.assertFalse([argv for argv in calls if argv[0] in ("npm", "npx", "docker")], calls)
        state = rehearsal.load_state()
        self.assertEqual((state["stacks"], state["params"], state["log_groups"]), (["CDKToolkit"], {}, []))

        self.assert_no_secret(everything)

    def test_a_failed_stack_deletion_keeps_the_webhook_and_the_secrets(self):
        rehearsal = Rehearsal(self)
        rehearsal.state.update(stacks=["CDKToolkit", STACK], fail=["stack-delete"])
        rehearsal.state["params"] = {f"{SECRETS}/telegram-bot-token": BOT_TOKEN, f"{SECRETS}/anthropic-api-key": API_KEY}
        rehearsal.save_state()
        result, calls = rehearsal.run(rehearsal.fresh_clone(), "destroy", CONFIRM=STACK)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Nothing else was removed", result.stderr)
        self.assertIn("The bucket you tried to delete is not empty", result.stderr)
        self.assertFalse([argv for argv in calls if argv[0] == "cargo" or argv[1:3] == ["ssm", "delete-parameter"]])
        self.assertEqual(len(rehearsal.load_state()["params"]), 2)

    def test_a_failed_image_cleanup_warns_and_the_deploy_succeeds_and_asset_gc_0_skips_it(self):
        rehearsal = Rehearsal(self)
        rehearsal.state.update(stacks=["CDKToolkit", STACK], fail=["gc"])
        rehearsal.state["params"] = {f"{SECRETS}/anthropic-api-key": API_KEY}
        rehearsal.save_state()
        clone = rehearsal.fresh_clone()
        result, calls = rehearsal.run(clone, "deploy")
        self.assert_ok(result)
        self.assertIn("WARNING: removing unused agent images failed", result.stderr)
        self.assert_in_order(calls, [["npx", "cdk", "deploy"], ["npx", "cdk", "gc"]])
        result, calls = rehearsal.run(clone, "deploy", ASSET_GC="0")
        self.assert_ok(result)
        self.assertFalse([argv for argv in calls if argv[:3] == ["npx", "cdk", "gc"]])

    def test_destroy_without_confirmation_deletes_nothing(self):
        rehearsal = Rehearsal(self)
        rehearsal.state["stacks"] = [STACK]
        rehearsal.save_state()
        result, calls = rehearsal.run(rehearsal.fresh_clone(), "destroy", CONFIRM="another-stack")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Not confirmed; nothing was deleted.", result.stderr)
        self.assertFalse([argv for argv in calls if argv[1:3] == ["cloudformation", "delete-stack"]])

    def test_a_first_deploy_without_a_terminal_asks_for_the_owner_in_the_environment(self):
        rehearsal = Rehearsal(self)
        result, calls = rehearsal.run(rehearsal.fresh_clone(), "deploy", SERVERLESS_OPENCLAW_LLM_API_KEY=API_KEY)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("No terminal to ask on: set OWNER_EMAIL.", result.stderr)
        self.assertFalse([argv for argv in calls if argv[0] == "npx" or argv[1:3] == ["ssm", "put-parameter"]])

    def test_doctor_lists_every_problem_with_its_fix_and_fails(self):
        rehearsal = Rehearsal(self)
        rehearsal.state.update(fail=["docker-engine"], rustc="1.80.0", free_gb=2)
        rehearsal.save_state()
        result, _ = rehearsal.run(rehearsal.fresh_clone(), "doctor")
        self.assertNotEqual(result.returncode, 0)
        problems = [line for line in result.stdout.splitlines() if line.startswith("  MISSING")]
        self.assertEqual(len(problems), 3, result.stdout)
        self.assertIn("Docker engine", problems[0])
        self.assertIn("Rust 1.80.0 (the workspace needs 1.94)", problems[1])
        self.assertIn("disk: 2 GB free", problems[2])
        self.assertIn("rustup update stable", result.stdout)
        self.assertIn("  ok       AWS credentials: account 123456789012", result.stdout)


if __name__ == "__main__":
    unittest.main()
