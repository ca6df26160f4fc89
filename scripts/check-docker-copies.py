#!/usr/bin/env python3
"""Checks the Dockerfiles without building them, so a broken COPY shows up in seconds instead of in an
image build:

- every path a Dockerfile copies from the build context (the repository root) exists and is not
  excluded by .dockerignore. A source that a manifest's `buildCommand` makes just before the image is
  built (the agent's bootstrap) may be missing; it must still get past .dockerignore;
- for a Dockerfile with an image manifest next to it (docker/<name>.Dockerfile and
  docker/<name>.image.json), the last stage's COPY lines are exactly the manifest's files (one COPY per
  file, same source, same destination), its ENV lines set exactly the manifest's `env` and its CMD is
  the manifest's `cmd`. The
  Lambda-like sandbox test lays out the image from the same manifest, so the two cannot drift apart.

    scripts/check-docker-copies.py docker/*.Dockerfile

COPY/ADD instructions with --from copy from another stage: their sources are not in the build context.
Exits 1 on any problem.
"""

import fnmatch
import json
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def instructions(text):
    """The Dockerfile's instructions, continuation lines joined, comment lines dropped."""
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        pending += stripped
        if pending:
            yield pending
        pending = ""
    if pending:
        yield pending


def dockerignore_patterns():
    """(negated, pattern) pairs of .dockerignore, in order (the last match wins, as in Docker)."""
    path = ROOT / ".dockerignore"
    if not path.exists():
        return []
    patterns = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        patterns.append((negated, line.lstrip("!").strip("/")))
    return patterns


def ignored(source, patterns):
    """Whether .dockerignore keeps `source` (or a folder above it) out of the build context."""
    parts = Path(source).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for negated, pattern in patterns:
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes):
            result = not negated
    return result


def split(instruction):
    """(KEYWORD, rest) of an instruction."""
    keyword, _, rest = instruction.partition(" ")
    return keyword.upper(), rest.strip()


def copy_parts(rest):
    """(--from stage or None, --chmod mode or None, sources, destination) of a COPY/ADD instruction's
    arguments."""
    stage = mode = None
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        if flag.startswith("--from="):
            stage = flag.partition("=")[2]
        elif flag.startswith("--chmod="):
            mode = flag.partition("=")[2]
        rest = rest.strip()
    args = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
    return stage, mode, args[:-1], args[-1]


def env_pairs(rest):
    """The variables of an ENV instruction (`ENV A=1 B=2`, or the legacy `ENV A 1`)."""
    words = shlex.split(rest)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.partition("=")[::2] for word in words)


def stages(dockerfile_text):
    """The stages of a Dockerfile: a list of (name or None, [(KEYWORD, rest), ...])."""
    result = []
    for instruction in instructions(dockerfile_text):
        keyword, rest = split(instruction)
        if keyword == "FROM":
            words = rest.split()
            name = words[-1] if len(words) >= 3 and words[-2].upper() == "AS" else None
            result.append((name, []))
        elif result:
            result[-1][1].append((keyword, rest))
    return result


def manifest_path(dockerfile):
    """docker/<name>.image.json for docker/<name>.Dockerfile."""
    path = Path(dockerfile)
    return path.with_name(path.name.removesuffix(".Dockerfile") + ".image.json")


def built_before_image(manifest):
    """The context sources a manifest's build commands make just before the image is built."""
    if manifest is None:
        return set()
    return {f["context"] for f in manifest["files"] if "buildCommand" in f}


def check_copy_sources(dockerfile, all_stages, prebuilt, patterns):
    """Problems with the build-context sources of every COPY/ADD, and how many sources were checked."""
    problems = []
    checked = 0
    for _, body in all_stages:
        for keyword, rest in body:
            if keyword not in ("COPY", "ADD"):
                continue
            stage, _, sources, _ = copy_parts(rest)
            if stage is not None:
                continue
            for source in sources:
                checked += 1
                if not list(ROOT.glob(source)) and source not in prebuilt:
                    problems.append(f"{dockerfile}: COPY source {source} does not exist")
                elif ignored(source, patterns):
                    problems.append(f"{dockerfile}: COPY source {source} is excluded by .dockerignore")
    return problems, checked


def check_manifest(dockerfile, all_stages, manifest, manifest_name):
    """Problems where the last stage's COPY, ENV and CMD lines differ from the image manifest."""
    problems = []
    names = {name for name, _ in all_stages if name}
    _, final = all_stages[-1]
    copies = []
    env = {}
    cmd = None
    for keyword, rest in final:
        if keyword in ("COPY", "ADD"):
            stage, mode, sources, destination = copy_parts(rest)
            if len(sources) != 1:
                problems.append(
                    f"{dockerfile}: `{keyword} {rest}` copies {len(sources)} sources; "
                    f"the last stage copies one manifest file per line"
                )
                continue
            copies.append((stage, mode, sources[0], destination))
        elif keyword == "ENV":
            env.update(env_pairs(rest))
        elif keyword == "CMD":
            cmd = json.loads(rest) if rest.startswith("[") else rest

    expected = []
    for entry in manifest["files"]:
        if "stage" in entry:
            if entry["stage"] not in names:
                problems.append(f"{manifest_name}: {entry['image']} comes from stage {entry['stage']}, "
                                f"which {dockerfile} does not have")
            expected.append((entry["stage"], entry.get("mode"), entry["stagePath"], entry["image"]))
        else:
            expected.append((None, entry.get("mode"), entry["context"], entry["image"]))

    def describe(copy):
        stage, mode, source, destination = copy
        flags = "".join(f"{flag} " for flag in (stage and f"--from={stage}", mode and f"--chmod={mode}") if flag)
        return f"COPY {flags}{source} {destination}"

    for copy in expected:
        if copy not in copies:
            problems.append(f"{dockerfile}: no `{describe(copy)}` in the last stage, which {manifest_name} lists")
    for copy in copies:
        if copy not in expected:
            problems.append(f"{dockerfile}: `{describe(copy)}` in the last stage is not in {manifest_name}")

    for name in sorted(set(env) | set(manifest["env"])):
        got, want = env.get(name), manifest["env"].get(name)
        if got != want:
            problems.append(f"{dockerfile}: ENV {name} is {got!r} in the last stage, {want!r} in {manifest_name}")
    if cmd != manifest["cmd"]:
        problems.append(f"{dockerfile}: CMD is {cmd!r} in the last stage, {manifest['cmd']!r} in {manifest_name}")
    return problems


def main(dockerfiles):
    patterns = dockerignore_patterns()
    problems = []
    checked = 0
    manifests = 0
    for dockerfile in dockerfiles:
        all_stages = stages(Path(dockerfile).read_text())
        if not all_stages:
            problems.append(f"{dockerfile}: no FROM")
            continue
        path = manifest_path(dockerfile)
        manifest = json.loads(path.read_text()) if path.exists() else None
        found, count = check_copy_sources(dockerfile, all_stages, built_before_image(manifest), patterns)
        problems += found
        checked += count
        if manifest is not None:
            manifests += 1
            problems += check_manifest(dockerfile, all_stages, manifest, str(path))
    for problem in problems:
        print(problem, file=sys.stderr)
    print(
        f"check-docker-copies: {checked} COPY sources and {manifests} image manifests checked, "
        f"{len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
