# The agent Lambda's container image (arm64, custom runtime on Amazon Linux 2023): the Rust `agent`
# binary as the runtime's bootstrap, the pinned Node 24 and the OpenClaw runner it drives.
#
# The bootstrap is not compiled here: it is cross-compiled on the build machine with cargo-lambda, like
# the other functions, and copied in (no Rust toolchain in the image, no Rust build under emulation).
# The CDK app runs that build before the image is built (`make deploy`); by hand:
#
#   cargo lambda build --release --arm64 --bin agent --lambda-dir build/lambda
#   docker build --platform linux/arm64 -f docker/agent.Dockerfile -t serverless-openclaw-agent .
#
# The image's file tree and environment are written down in docker/agent.image.json: the COPY and ENV
# lines of the last stage must match it (scripts/check-docker-copies.py, `make check-docker`), and the
# Lambda-like sandbox test lays out the same tree from it.
#
# The build context is the repository root; .dockerignore lets in only what the image copies. Every
# FROM says --platform=linux/arm64 on purpose (hadolint's DL3029 is ignored there): the function runs
# on arm64 (Graviton), and a build that silently produced the builder's architecture would only fail
# when invoked. On x86_64 the npm step runs under QEMU emulation (minutes, not hours: nothing compiles).
#
# Pinning: each base image is pinned by tag. For a reproducible release, append the digest of the tag's
# multi-arch index, FROM <image>:<tag>@sha256:<digest> (`docker buildx imagetools inspect <image>:<tag>`
# prints it), and update tag and digest together.

# --- 1. Node 24 and the runner's packages ---------------------------------------------------------
# The same steps as scripts/install-runner.sh: Node comes from the npm package `node`, pinned by
# runner/toolchain (24.21.0); on arm64 it installs the official linux-arm64 build. The runner's
# packages come from runner/package-lock.json with install scripts enabled, but only those approved
# in runner/package.json (allowScripts; runner/.npmrc makes an unapproved one fail the install).
# This image only supplies npm 11 (which understands allowScripts); its own Node is not copied. The
# native modules are prebuilt linux-arm64-gnu packages from the lockfile, nothing compiles here, so
# Debian's glibc does not leak into the final image.
# hadolint ignore=DL3029
FROM --platform=linux/arm64 node:24.21.0-bookworm-slim AS node

WORKDIR /build/toolchain
COPY runner/toolchain/package.json runner/toolchain/package-lock.json runner/toolchain/.npmrc ./
RUN npm ci --no-audit --no-fund --loglevel=warn \
    && node_modules/node/bin/node --version

WORKDIR /build/runner
COPY runner/package.json runner/package-lock.json runner/.npmrc ./
# With the pinned Node first on PATH, as openclaw's install scripts check the Node version; without the
# devDependencies (the type checker of the runner's JavaScript), which only `make lint` uses. The
# lifecycle markers must be gone: otherwise openclaw would try to finish its install at run time, by
# writing into node_modules, which is read-only in Lambda.
RUN PATH="/build/toolchain/node_modules/node/bin:$PATH" npm ci --omit=dev --no-audit --no-fund --loglevel=warn \
    && test ! -e node_modules/openclaw/.openclaw-lifecycle-pending \
    && test ! -e node_modules/openclaw/dist/openclaw-install-guard

# --- 2. The Lambda image --------------------------------------------------------------------------
# hadolint ignore=DL3029
FROM --platform=linux/arm64 public.ecr.aws/lambda/provided:al2023.2026.02.27.21

# Node's official build links libstdc++ dynamically; the minimal runtime image may lack it (a no-op
# when it is there). DL3041 (pin each package version) is ignored: the image tag locks the Amazon
# Linux 2023 release, whose repository snapshot fixes the versions.
# hadolint ignore=DL3041
RUN dnf install -y libstdc++ && dnf clean all

# The file tree of docker/agent.image.json, one COPY per entry, least often changed first so that a
# code change rebuilds only the last layers. Node is execute-only for the function's user (who does not
# own it): the kernel then makes every process that runs it non-dumpable, so the tools OpenClaw starts
# cannot read the runner's memory, which holds the keys and transcripts of its turns
# (docs/security.md).
COPY --from=node --chmod=0711 /build/toolchain/node_modules/node/bin/node /opt/node/bin/node
COPY --from=node /build/runner/node_modules /opt/runner/node_modules
COPY runner/package.json /opt/runner/package.json
COPY runner/lib /opt/runner/lib
COPY runner/runner.mjs /opt/runner/runner.mjs
# Node's compile cache for the runner, OpenClaw and its worker threads, primed here once at the paths it
# runs from (it runs OpenClaw and a warm-up turn against a stub inside the runner; no network): a cold
# start then compiles almost nothing (docs/runner-protocol.md, "Compile cache"). Primed as root; the
# function's own user reads it through a link the runner makes under /tmp, so the entries (Node writes
# them 0600, worker threads' ones only when the process exits) are made readable by all afterwards.
# OpenClaw's temp files are removed.
RUN NODE_COMPILE_CACHE=/opt/runner/compile-cache /opt/node/bin/node /opt/runner/runner.mjs --prime \
    && chmod -R a+rX /opt/runner/compile-cache \
    && rm -rf /tmp/openclaw /tmp/openclaw-state-locks-*
# The custom runtime's entry point (/lambda-entrypoint.sh runs /var/runtime/bootstrap), built for
# arm64 by `cargo lambda build` before the image (see the top of this file).
COPY build/lambda/agent/bootstrap /var/runtime/bootstrap

# Fails the build if Node cannot start on this image (a missing shared library, a glibc too old).
RUN ["/opt/node/bin/node", "--version"]

# Only /tmp is writable in Lambda: home, temp files and OpenClaw's state (config, sessions, the
# per-user workspaces while a turn runs) live there. No secrets in the image: they are read at run
# time. No USER either: Lambda runs the function as its own least-privileged Linux user on a read-only
# file system whatever the image says, so everything above only has to be world-readable (it is:
# npm and COPY keep 0644/0755 modes). These variables are the `env` of docker/agent.image.json.
ENV HOME=/tmp/home \
    TMPDIR=/tmp \
    NODE_COMPILE_CACHE=/opt/runner/compile-cache \
    SERVERLESS_OPENCLAW_NODE=/opt/node/bin/node \
    SERVERLESS_OPENCLAW_RUNNER=/opt/runner/runner.mjs \
    SERVERLESS_OPENCLAW_STATE_DIR=/tmp/openclaw

# /lambda-entrypoint.sh expects one argument, the handler name; a custom runtime ignores it.
CMD ["agent"]
