#!/usr/bin/env python3
"""Checks that every path a Dockerfile copies from the build context (the repository root) exists and
is not excluded by .dockerignore, so a broken COPY shows up in seconds instead of in an image build.

    scripts/check-docker-copies.py docker/*.Dockerfile

COPY/ADD instructions with --from copy from another stage and are skipped. Exits 1 on any problem.
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


def copy_sources(instruction):
    """The build-context sources of a COPY/ADD instruction (none for other instructions)."""
    keyword, _, rest = instruction.partition(" ")
    if keyword.upper() not in ("COPY", "ADD"):
        return []
    rest = rest.strip()
    flags = []
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        flags.append(flag)
        rest = rest.strip()
    if any(f.startswith("--from=") for f in flags):
        return []
    args = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
    return args[:-1]


def main(dockerfiles):
    patterns = dockerignore_patterns()
    problems = []
    checked = 0
    for dockerfile in dockerfiles:
        for instruction in instructions(Path(dockerfile).read_text()):
            for source in copy_sources(instruction):
                checked += 1
                if not list(ROOT.glob(source)):
                    problems.append(f"{dockerfile}: COPY source {source} does not exist")
                elif ignored(source, patterns):
                    problems.append(f"{dockerfile}: COPY source {source} is excluded by .dockerignore")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"check-docker-copies: {checked} COPY sources checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
