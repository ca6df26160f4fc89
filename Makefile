# serverless-openclaw: the two commands of the README are `make run` and `make test`.
# Every target installs what it needs (Node 24 + openclaw into .tools/ and runner/, the web UI's
# packages, Chromium for the browser test, bubblewrap for local mode and the Lambda-like sandbox test, moto server for
# the AWS tests); nothing relies on what was installed by hand.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Node 24 from the npm registry (scripts/install-runner.sh), ahead of the machine's Node.
export PATH := $(CURDIR)/.tools/node/node_modules/node/bin:$(PATH)
CARGO ?= cargo
WEB_SOURCES := $(shell find web/src web/index.html web/vite.config.ts web/tsconfig.json -type f 2>/dev/null)

.PHONY: help run test bench load fuzz node runner web infra chromium bubblewrap moto lint lint-rust lint-js test-rust test-js test-infra fake-llm \
	check-docker check-scripts doctor deploy destroy clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

run: runner web bubblewrap ## Run local mode, OpenClaw inside bubblewrap (ARGS="--port 9000 --data-dir DIR" to change defaults)
	$(CARGO) run --release --bin serverless-openclaw -- local $(ARGS)

test: runner web chromium bubblewrap moto ## The whole test suite (what CI runs)
	$(MAKE) lint
	$(MAKE) check-docker
	$(MAKE) check-scripts
	$(MAKE) test-infra
	$(MAKE) test-rust
	$(MAKE) test-js

lint: lint-rust lint-js ## lint-rust and lint-js

lint-rust: ## cargo fmt --check, clippy -D warnings, no AWS SDK in the local binary
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --features serverless-openclaw-cli/aws -- -D warnings
	$(CARGO) clippy -p serverless-openclaw-cli --all-targets -- -D warnings
	@# Local mode builds without the AWS SDK (most of a first build's time); only `--features aws` has it.
	@! $(CARGO) tree -p serverless-openclaw-cli -e normal --prefix none | grep '^aws-sdk' \
		|| { echo "the local binary depends on the AWS SDK (above)" >&2; exit 1; }

lint-js: runner web infra ## ESLint + Prettier --check in web/ and infra/, the type check of the runner's JavaScript
	npm --prefix web run lint
	npm --prefix infra run lint
	npm --prefix runner run typecheck

test-rust: runner web chromium bubblewrap moto ## Rust unit, contract (local and moto), end-to-end, sandbox and browser tests (the web UI and the agent's browser in Chromium)
	$(CARGO) test --workspace --features serverless-openclaw-cli/aws

test-js: runner web chromium ## Web type check and unit tests, runner tests (the browser tool in Chromium)
	npm --prefix web run typecheck
	npm --prefix web test
	npm --prefix runner test

bench: runner moto chromium ## Agent cold start, warm turns, runner RSS; the gateway runtime's start, overhead and RSS; a 10 MB image end to end; Lambda gateway init and RSS; agent pre-warm; transcript load + store; the browser's first call on one CPU; search (docs/benchmarks.md)
	$(CARGO) run --release -p serverless-openclaw-cli --example bench
	$(CARGO) run --release -p serverless-openclaw-cli --example attachment_bench
	$(CARGO) run --release -p serverless-openclaw-agent --example gateway_runtime_bench
	$(CARGO) build --release -p serverless-openclaw-lambdas --bins
	$(CARGO) run --release -p serverless-openclaw-lambdas --example gateway_bench
	$(CARGO) run --release -p serverless-openclaw-lambdas --example prewarm_bench
	$(CARGO) run --release -p serverless-openclaw-lambdas --example transcript_bench
	node runner/bench/transcript-bench.mjs
	node runner/bench/browser-bench.mjs
	$(CARGO) run --release -p serverless-openclaw-aws --example search_bench

# The load suite's scenarios, in order (`make load LOAD=soak` runs one).
LOAD ?= local aws soak

load: runner moto bubblewrap ## Load suite: 50 users × 4 turns at once, locally and on the AWS path; 500 turns on one runner (LOAD="local aws soak"; docs/benchmarks.md)
	@for scenario in $(LOAD); do \
		case $$scenario in \
		local|soak) $(CARGO) run --release -p serverless-openclaw-cli --example load -- $$scenario ;; \
		aws) $(CARGO) build --release -p serverless-openclaw-lambdas --bins \
			&& $(CARGO) run --release -p serverless-openclaw-lambdas --example load_aws ;; \
		*) echo "unknown load scenario $$scenario (local, aws, soak)" >&2; exit 1 ;; \
		esac || exit 1; \
	done

fuzz: ## Coverage-guided fuzzing of the parsers, 10 million inputs a target (FUZZ_RUNS, FUZZ_TARGETS; docs/development.md)
	scripts/fuzz.sh

test-infra: infra web ## CDK app: type check, assertion tests, synth, cfn-lint and checkov (no AWS account needed)
	scripts/install-python-tools.sh cfn-lint
	scripts/install-python-tools.sh checkov
	npm --prefix infra run typecheck
	npm --prefix infra test
	rm -rf infra/cdk.out
	cd infra && SERVERLESS_OPENCLAW_SKIP_BUNDLING=1 npx cdk synth --quiet --no-notices > /dev/null
	cd infra && ../.tools/cfn-lint/bin/cfn-lint --config-file .cfnlintrc.yaml cdk.out/*.template.json
	cd infra && ../.tools/checkov/bin/checkov --config-file .checkov.yaml --file cdk.out/*.template.json

# The deploy targets install what they use themselves (scripts/deploy.sh: Node 24 through `make web infra`,
# the AWS CLI and cargo-lambda when they are not on PATH); destroy needs only the AWS CLI.
doctor: ## Check what a deploy needs (AWS, Docker with arm64 builds, Node/npm, python3 venv, Rust, disk, ...)
	scripts/doctor.sh

deploy: ## Deploy to the AWS account of your credentials (docs/deployment.md)
	scripts/deploy.sh

destroy: ## Remove everything `make deploy` created (asks first)
	scripts/destroy.sh

fake-llm: ## Run the fake LLM by hand (prints its base URL)
	$(CARGO) run -p serverless-openclaw-testkit --bin fake-llm

node: ## Install Node 24 alone into .tools/node (the web build and the CDK app run on it; idempotent)
	scripts/install-runner.sh --node

runner: ## Install Node 24 and the pinned openclaw (idempotent)
	scripts/install-runner.sh

web: .tools/web.stamp ## Install the web UI's packages and build web/dist

.tools/web.stamp: web/package.json web/package-lock.json $(WEB_SOURCES) | node
	npm --prefix web ci --no-audit --no-fund
	npm --prefix web run build
	@mkdir -p .tools && touch $@

infra: .tools/infra.stamp ## Install the CDK app's packages

.tools/infra.stamp: infra/package.json infra/package-lock.json | node
	npm --prefix infra ci --no-audit --no-fund
	@mkdir -p .tools && touch $@

check-docker: ## Lint docker/*.Dockerfile (hadolint), check their COPY sources and image manifests (no Docker needed)
	scripts/install-python-tools.sh hadolint
	.tools/hadolint/bin/hadolint docker/*.Dockerfile
	python3 scripts/check_docker_copies_test.py -q
	scripts/check-docker-copies.py docker/*.Dockerfile

check-scripts: node ## Bash 3.2 check of scripts/*.sh (macOS) and the deploy rehearsal (recorders for aws, cdk, docker, cargo)
	python3 scripts/check_bash32_test.py -q
	scripts/check-bash32.py scripts/*.sh
	python3 scripts/deploy_rehearsal_test.py -q

moto: ## Install moto server (AWS on loopback, for the AWS tests) into .tools/moto
	scripts/install-python-tools.sh moto

chromium: ## Install Chromium for the browser test (Debian's package)
	scripts/install-debian-package.sh chromium chromium

bubblewrap: ## Install bubblewrap: local mode seals OpenClaw in it; the Lambda-like sandbox test (Debian's package)
	scripts/install-debian-package.sh bubblewrap bwrap

clean: ## Remove build output and installed tools (not your data)
	rm -rf target build .tools web/dist web/node_modules runner/node_modules infra/node_modules infra/cdk.out
