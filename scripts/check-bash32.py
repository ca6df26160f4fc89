#!/usr/bin/env python3
"""Flags shell constructs that macOS's /bin/bash (3.2) does not run the way bash 5 does, in the given
scripts. `make check-scripts` runs it on scripts/*.sh: owners deploy from Macs, and bash 5 on Linux
accepts all of these, so no test run here would notice (docs/architecture.md, "Deploy scripts").

    scripts/check-bash32.py scripts/*.sh

It reads code line by line, skipping comments and here-document bodies. One rule is about meaning, not
syntax: an array that starts empty (`name=()`) expanded as "${name[@]}" is an unbound-variable error
under `set -u` before bash 4.4; expand it as ${name[@]+"${name[@]}"}.
"""

import re
import sys
from pathlib import Path

# (pattern, what it is, the bash that brought it)
RULES = [
    (re.compile(r"\$\{[!#]?\w+(\[[^]]*\])?(\^\^?|,,?)"), "case modification ${var,,} / ${var^^}", "4.0"),
    (re.compile(r"\b(declare|local|typeset|readonly)\s+-\w*[Agnlu]"), "declare -A/-g/-n/-l/-u", "4.0-4.3"),
    (re.compile(r"\b(mapfile|readarray)\b"), "mapfile / readarray", "4.0"),
    (re.compile(r"\|&"), "|& (pipe with stderr)", "4.0"),
    (re.compile(r"&>>"), "&>> (append stdout and stderr)", "4.0"),
    (re.compile(r"\$\{\w+\[-"), "negative array subscript ${arr[-1]}", "4.3"),
    (re.compile(r"\bprintf\s+-v\s+[\"']?\w+\["), "printf -v into an array element", "4.1"),
    (re.compile(r"(\[\[|\[|\btest)\s+(!\s+)?-v\s"), "-v (is the variable set) test", "4.2"),
    (re.compile(r"\bcoproc\b"), "coproc", "4.0"),
    (re.compile(r";;?&(?!&)"), "case fall-through ;& / ;;&", "4.0"),
    (re.compile(r"\$\{\w+(\[[^]]*\])?@[QEPAaKkUuL]\}"), "parameter transformation ${var@Q}", "4.4"),
    (re.compile(r"\$\{?(EPOCHSECONDS|EPOCHREALTIME|BASHPID|BASH_ARGV0)\b"), "$EPOCHSECONDS/$BASHPID and kin", "4.0-5.0"),
    (
        re.compile(r"\bshopt\s+-s\s+.*\b(globstar|lastpipe|inherit_errexit|autocd|checkjobs|direxpand|dirspell|localvar_inherit|assoc_expand_once)\b"),
        "shopt option newer than 3.2",
        "4.0-5.0",
    ),
    (re.compile(r"\bwait\s+-n\b"), "wait -n", "4.3"),
]

HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)(\w+)\2")
EMPTY_ARRAY = re.compile(r"(?:^|[\s;])(?:local\s+)?(\w+)=\(\s*\)")
GUARDED_EXPANSION = re.compile(r"\$\{(\w+)\[@\]\+\"\$\{\1\[@\]\}\"\}")
ARRAY_EXPANSION = re.compile(r"\$\{(\w+)\[[@*]\]\}")


def code_of(line):
    """The line without its comment: a # that starts a word outside quotes."""
    quote = None
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\" and quote != "'":
            i += 1  # the next character is escaped
        elif quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t;|&("):
            return line[:i]
        i += 1
    return line


def code_lines(text):
    """(line number, code) of each line outside here-document bodies."""
    heredoc = None
    for number, line in enumerate(text.splitlines(), 1):
        if heredoc:
            strip_tabs, delimiter = heredoc
            if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                heredoc = None
            continue
        code = code_of(line)
        found = HEREDOC.search(code)
        if found:
            heredoc = (found.group(1) == "-", found.group(3))
        yield number, code


def problems(name, text):
    lines = list(code_lines(text))
    empty_arrays = {found for _, code in lines for found in EMPTY_ARRAY.findall(code)}
    found = []
    for number, code in lines:
        for pattern, what, since in RULES:
            if pattern.search(code):
                found.append(f"{name}:{number}: {what} (bash {since}; macOS has 3.2): {code.strip()}")
        for array in ARRAY_EXPANSION.findall(GUARDED_EXPANSION.sub("", code)):
            if array in empty_arrays:
                found.append(
                    f"{name}:{number}: \"${{{array}[@]}}\" of an array that starts empty is unbound under set -u "
                    f"before bash 4.4: write ${{{array}[@]+\"${{{array}[@]}}\"}}: {code.strip()}"
                )
    return found


def main(paths):
    found = [problem for path in paths for problem in problems(path, Path(path).read_text())]
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
