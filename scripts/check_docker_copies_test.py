#!/usr/bin/env python3
"""Tests of scripts/check-docker-copies.py on small Dockerfiles and manifests: a last stage that follows
its manifest passes, and each kind of drift (a COPY, its source stage or permissions, an ENV value, the
CMD, a line copying two files) is reported. `make check-docker` runs them before the check itself.

    python3 scripts/check_docker_copies_test.py
"""

import importlib.util
import unittest
from pathlib import Path

spec = importlib.util.spec_from_file_location("check", Path(__file__).with_name("check-docker-copies.py"))
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)

DOCKERFILE = """\
FROM node:24 AS node
RUN npm ci
FROM base
RUN dnf install -y libstdc++
COPY --from=node /build/node_modules /opt/app/node_modules
COPY app.mjs /opt/app/app.mjs
COPY build/bootstrap /var/runtime/bootstrap
ENV HOME=/tmp/home \\
    TMPDIR=/tmp
CMD ["agent"]
"""

MANIFEST = {
    "files": [
        {"image": "/opt/app/node_modules", "stage": "node", "stagePath": "/build/node_modules", "local": "node_modules"},
        {"image": "/opt/app/app.mjs", "context": "app.mjs"},
        {"image": "/var/runtime/bootstrap", "context": "build/bootstrap", "buildCommand": ["make", "bootstrap"]},
    ],
    "cmd": ["agent"],
    "env": {"HOME": "/tmp/home", "TMPDIR": "/tmp"},
}


def problems(dockerfile=DOCKERFILE, manifest=MANIFEST):
    return check.check_manifest("Dockerfile", check.stages(dockerfile), manifest, "image.json")


class CheckManifest(unittest.TestCase):
    def test_a_last_stage_that_follows_its_manifest_passes(self):
        self.assertEqual(problems(), [])

    def test_a_copy_to_another_path_is_reported_both_ways(self):
        found = problems(DOCKERFILE.replace("/opt/app/app.mjs", "/opt/app/main.mjs"))
        self.assertEqual(len(found), 2, found)
        self.assertIn("no `COPY app.mjs /opt/app/app.mjs`", found[0])
        self.assertIn("`COPY app.mjs /opt/app/main.mjs` in the last stage is not in image.json", found[1])

    def test_a_file_from_a_stage_the_dockerfile_lacks_is_reported(self):
        manifest = dict(MANIFEST, files=[dict(MANIFEST["files"][0], stage="npm")] + MANIFEST["files"][1:])
        found = problems(manifest=manifest)
        self.assertTrue(any("comes from stage npm" in p for p in found), found)

    def test_an_env_value_that_differs_or_is_missing_is_reported(self):
        found = problems(DOCKERFILE.replace("TMPDIR=/tmp", "TMPDIR=/var/tmp"))
        self.assertEqual(found, ["Dockerfile: ENV TMPDIR is '/var/tmp' in the last stage, '/tmp' in image.json"])
        found = problems(manifest=dict(MANIFEST, env=dict(MANIFEST["env"], LANG="C.UTF-8")))
        self.assertEqual(found, ["Dockerfile: ENV LANG is None in the last stage, 'C.UTF-8' in image.json"])

    def test_another_cmd_is_reported(self):
        found = problems(DOCKERFILE.replace('CMD ["agent"]', 'CMD ["other"]'))
        self.assertEqual(found, ["Dockerfile: CMD is ['other'] in the last stage, ['agent'] in image.json"])

    def test_permissions_the_manifest_names_must_be_the_copys(self):
        manifest = dict(MANIFEST, files=MANIFEST["files"][:2] + [dict(MANIFEST["files"][2], mode="0711")])
        found = problems(manifest=manifest)
        self.assertIn("no `COPY --chmod=0711 build/bootstrap /var/runtime/bootstrap`", found[0])
        chmod = DOCKERFILE.replace("COPY build/bootstrap", "COPY --chmod=0711 build/bootstrap")
        self.assertEqual(problems(chmod, manifest), [])
        self.assertEqual(len(problems(chmod)), 2)

    def test_a_line_copying_two_files_is_refused(self):
        found = problems(DOCKERFILE.replace("COPY app.mjs /opt/app/app.mjs", "COPY app.mjs lib /opt/app/"))
        self.assertTrue(any("copies 2 sources" in p for p in found), found)

    def test_copies_in_earlier_stages_are_not_the_images(self):
        found = problems(DOCKERFILE.replace("RUN npm ci", "RUN npm ci\nCOPY extra.txt /extra.txt"))
        self.assertEqual(found, [])


class Dockerignore(unittest.TestCase):
    def test_an_allow_list_lets_in_only_what_it_names(self):
        patterns = [(False, "*"), (True, "runner/lib"), (True, "build/lambda/agent/bootstrap")]
        self.assertFalse(check.ignored("runner/lib", patterns))
        self.assertFalse(check.ignored("build/lambda/agent/bootstrap", patterns))
        self.assertTrue(check.ignored("runner/node_modules", patterns))
        self.assertTrue(check.ignored("target/lambda/agent/bootstrap", patterns))


if __name__ == "__main__":
    unittest.main()
