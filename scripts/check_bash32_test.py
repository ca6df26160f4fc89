#!/usr/bin/env python3
"""Tests of scripts/check-bash32.py: each construct macOS's bash 3.2 lacks is flagged, the 3.2-safe
spelling of the same thing is not, comments and here-document bodies are not code, and the
repository's own scripts pass. `make check-scripts` runs them before the check itself.

    python3 scripts/check_bash32_test.py
"""

import importlib.util
import unittest
from pathlib import Path

spec = importlib.util.spec_from_file_location("check", Path(__file__).with_name("check-bash32.py"))
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)


def flagged(script):
    return check.problems("t.sh", script)


class NewerConstructs(unittest.TestCase):
    def assert_flags(self, line, what):
        found = flagged(line + "\n")
        self.assertEqual(len(found), 1, found)
        self.assertIn(what, found[0])
        self.assertTrue(found[0].startswith("t.sh:1: "), found[0])

    def test_case_modification(self):
        self.assert_flags('lower="${name,,}"', "case modification")
        self.assert_flags('upper="${name^^}"', "case modification")
        self.assert_flags('first="${name^}"', "case modification")

    def test_declare_attributes_newer_than_3_2(self):
        self.assert_flags("declare -A seen", "declare -A")
        self.assert_flags("local -n ref=$1", "declare -A")
        self.assert_flags("declare -gA table", "declare -A")

    def test_mapfile_and_readarray(self):
        self.assert_flags("mapfile -t lines < file", "mapfile")
        self.assert_flags("readarray lines < file", "mapfile")

    def test_pipe_and_append_with_stderr(self):
        self.assert_flags("make |& tee log", "|&")
        self.assert_flags("make &>> log", "&>>")

    def test_negative_subscript(self):
        self.assert_flags('last="${parts[-1]}"', "negative array subscript")

    def test_printf_into_an_array_element(self):
        self.assert_flags('printf -v "out[0]" "%s" x', "printf -v into an array element")
        self.assert_flags("printf -v out[1] %s x", "printf -v into an array element")
        self.assertEqual(flagged('printf -v name "%s" x\n'), [])

    def test_variable_is_set_test(self):
        self.assert_flags("if [[ -v NAME ]]; then :; fi", "-v (is the variable set)")
        self.assert_flags("[ ! -v NAME ] && exit", "-v (is the variable set)")

    def test_coproc(self):
        self.assert_flags("coproc worker { cat; }", "coproc")

    def test_case_fall_through(self):
        self.assert_flags("  a) echo a ;&", "fall-through")
        self.assert_flags("  a) echo a ;;&", "fall-through")
        self.assertEqual(flagged("  a) echo a && echo b ;;\n"), [])

    def test_parameter_transformation_and_new_variables(self):
        self.assert_flags('echo "${name@Q}"', "parameter transformation")
        self.assert_flags("start=$EPOCHSECONDS", "EPOCHSECONDS")

    def test_shopt_options_and_wait_n(self):
        self.assert_flags("shopt -s globstar", "shopt option")
        self.assert_flags("shopt -s nullglob lastpipe", "shopt option")
        self.assertEqual(flagged("shopt -s nullglob\n"), [])
        self.assert_flags("wait -n", "wait -n")


class EmptyArrays(unittest.TestCase):
    def test_an_array_that_starts_empty_expanded_plainly_is_flagged(self):
        found = flagged('args=()\n[ -n "$x" ] && args+=(--x "$x")\ncmd "${args[@]}"\n')
        self.assertEqual(len(found), 1, found)
        self.assertTrue(found[0].startswith("t.sh:3: "), found[0])
        self.assertIn('${args[@]+"${args[@]}"}', found[0])

    def test_a_local_empty_array_and_the_star_form_are_flagged(self):
        self.assertEqual(len(flagged('f() {\n  local args=()\n  echo ${args[*]}\n}\n')), 1)

    def test_the_guarded_expansion_passes(self):
        self.assertEqual(flagged('args=()\ncmd ${args[@]+"${args[@]}"}\n'), [])

    def test_an_array_that_starts_filled_passes(self):
        self.assertEqual(flagged('args=(-c x)\ncmd "${args[@]}"\n'), [])


class WhatIsNotCode(unittest.TestCase):
    def test_comments_are_skipped(self):
        self.assertEqual(flagged("# use ${name,,} on bash 4\necho hi # mapfile\n"), [])

    def test_a_hash_inside_quotes_or_a_word_is_not_a_comment(self):
        self.assertEqual(len(flagged('echo "#" ${name,,}\n')), 1)
        self.assertEqual(len(flagged("n=${#x} ; mapfile -t a\n")), 1)

    def test_here_document_bodies_are_skipped(self):
        script = "cat <<DONE\nmapfile and |& are words here\nDONE\nmapfile -t a\n"
        found = flagged(script)
        self.assertEqual(len(found), 1, found)
        self.assertTrue(found[0].startswith("t.sh:4: "), found[0])
        self.assertEqual(flagged("cat <<-'END'\n\tcoproc\n\tEND\n"), [])


class TheRepositorysScripts(unittest.TestCase):
    def test_scripts_pass(self):
        scripts = sorted(Path(__file__).parent.glob("*.sh"))
        self.assertGreater(len(scripts), 5)
        for script in scripts:
            self.assertEqual(check.problems(script.name, script.read_text()), [], script)


if __name__ == "__main__":
    unittest.main()
