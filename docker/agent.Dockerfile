# The agent Lambda's container image (arm64, custom runtime on Amazon Linux 2023): the Rust `agent`
# binary as the runtime's bootstrap, the pinned Node 24 and the OpenClaw runner it drives.
#
#   docker build --platform linux/arm64 -f docker/agent.Dockerfile -t serverless-openclaw-agent .
#
# The build context is the repository root (.dockerignore keeps it small). Every FROM says
# --platform=linux/arm64 on purpose (hadolint's DL3029 is ignored there): the function runs on arm64
# (Graviton), and a build that silently produced the builder's architecture would only fail when
# invoked. Build on an arm64 machine (Graviton, Apple silicon, an arm64 CI runner) so the Rust build
# runs natively; on x86_64 it runs under QEMU emulation and takes many times longer.
#
# Pinning: each base image is pinned by tag. For a reproducible release, append the digest of the tag's
# multi-arch index, FROM <image>:<tag>@sha256:<digest> (`docker buildx imagetools inspect <image>:<tag>`
# prints it), and update tag and digest together.

# --- 1. The Rust agent binary ---------------------------------------------------------------------
# Built on Amazon Linux 2023, the distribution of the runtime image below, so the binary links
# against the same glibc (2.34) that runs it; a newer builder's glibc could leave symbols it lacks.
# hadolint ignore=DL3029
FROM --platform=linux/arm64 public.ecr.aws/amazonlinux/amazonlinux:2023.9.20251208.0 AS rust

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# gcc is the linker (and builds aws-lc-sys's C). DL3041 (pin each package version) is ignored: the
# image tag locks the Amazon Linux 2023 release, whose repository snapshot fixes the versions.
# hadolint ignore=DL3041
RUN dnf install -y gcc && dnf clean all

# The toolchain version is pinned; rustup checks each component against the channel manifest's hashes.
ENV RUSTUP_HOME=/opt/rustup \
    CARGO_HOME=/opt/cargo \
    PATH=/opt/cargo/bin:$PATH
RUN curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
    | sh -s -- -y --no-modify-path --profile minimal --default-toolchain 1.95.0

WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
# The cache mounts keep the crates.io downloads and build output across image builds; the binary is
# copied out of the cached target folder within the same step.
RUN --mount=type=cache,target=/opt/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p serverless-openclaw-lambdas --bin agent \
    && install -D -m 0755 target/release/agent /out/bootstrap

# --- 2. Node 24 and the runner's packages ---------------------------------------------------------
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
# With the pinned Node first on PATH, as openclaw's install scripts check the Node version. The
# lifecycle markers must be gone: otherwise openclaw would try to finish its install at run time, by
# writing into node_modules, which is read-only in Lambda.
RUN PATH="/build/toolchain/node_modules/node/bin:$PATH" npm ci --no-audit --no-fund --loglevel=warn \
    && test ! -e node_modules/openclaw/.openclaw-lifecycle-pending \
    && test ! -e node_modules/openclaw/dist/openclaw-install-guard
COPY runner/runner.mjs ./
COPY runner/lib ./lib

# --- 3. The Lambda image --------------------------------------------------------------------------
# hadolint ignore=DL3029
FROM --platform=linux/arm64 public.ecr.aws/lambda/provided:al2023.2026.02.27.21

# Node's official build links libstdc++ dynamically; the minimal runtime image may lack it (a no-op
# when it is there). DL3041 ignored as in stage 1: the image tag fixes the versions.
# hadolint ignore=DL3041
RUN dnf install -y libstdc++ && dnf clean all

# Least often changed first, so a code change rebuilds only the last layers.
COPY --from=node /build/toolchain/node_modules/node/bin/node /opt/node/bin/node
COPY --from=node /build/runner /opt/runner
# Node's compile cache for the runner, OpenClaw and its worker threads, primed here once (it runs OpenClaw
# and a warm-up turn against a stub inside the runner; no network): a cold start then compiles almost
# nothing (docs/runner-protocol.md, "Compile cache"). Primed as root; the function's own user reads it
# through a link the runner makes under /tmp, so the entries (Node writes them 0600, worker threads' ones
# only when the process exits) are made readable by all afterwards. OpenClaw's temp files are removed.
RUN NODE_COMPILE_CACHE=/opt/runner/compile-cache /opt/node/bin/node /opt/runner/runner.mjs --prime \
    && chmod -R a+rX /opt/runner/compile-cache \
    && rm -rf /tmp/openclaw /tmp/openclaw-state-locks-*
# The custom runtime's entry point: /lambda-entrypoint.sh runs /var/runtime/bootstrap.
COPY --from=rust /out/bootstrap /var/runtime/bootstrap

# Fails the build if Node cannot start on this image (a missing shared library, a glibc too old).
RUN ["/opt/node/bin/node", "--version"]

# Only /tmp is writable in Lambda: home, temp files and OpenClaw's state (config, sessions, the
# per-user workspaces while a turn runs) live there. No secrets in the image: they are read at run
# time. No USER either: Lambda runs the function as its own least-privileged Linux user on a read-only
# file system whatever the image says, so everything above only has to be world-readable (it is:
# npm and COPY keep 0644/0755 modes).
ENV HOME=/tmp/home \
    TMPDIR=/tmp \
    NODE_COMPILE_CACHE=/opt/runner/compile-cache \
    SERVERLESS_OPENCLAW_NODE=/opt/node/bin/node \
    SERVERLESS_OPENCLAW_RUNNER=/opt/runner/runner.mjs \
    SERVERLESS_OPENCLAW_STATE_DIR=/tmp/openclaw

# /lambda-entrypoint.sh expects one argument, the handler name; a custom runtime ignores it.
CMD ["agent"]
