#!/usr/bin/env python3
"""Every option the README shows on a `chainrule COMMAND ...` line is one that COMMAND's --help
lists, so that a renamed or removed flag cannot stay in the README (a newcomer types what it
shows). A planted line with a flag that no command has must be reported first.

    python3 tests/readme_flags.py SOURCE_DIR path/to/chainrule
"""
import re
import subprocess
import sys

COMMANDS = ("explain init convert grad gradcheck train eval predict jacobian jvp attribute attack "
            "info certify").split()
LINE = re.compile(r"\bchainrule (" + "|".join(COMMANDS) + r")\b(.*)")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def unknown_flags(text, helps, cli):
    """(line number, command, flag) for each flag on a `chainrule COMMAND` line missing from its --help."""
    found = []
    lines = text.splitlines()
    for no, line in enumerate(lines, 1):
        while line.endswith("\\") and no < len(lines):  # a command continued on the next line
            line = line[:-1] + " " + lines[no]
            no += 1
        m = LINE.search(line)
        if not m:
            continue
        cmd = m.group(1)
        if cmd not in helps:
            p = subprocess.run([cli, cmd, "--help"], capture_output=True, text=True)
            if p.returncode != 0 or "usage:" not in p.stdout:
                sys.exit(f"readme_flags: `chainrule {cmd} --help` failed (exit {p.returncode})")
            helps[cmd] = p.stdout
        for flag in FLAG.findall(m.group(2)):
            # a flag is listed as "--name" followed by a space, a newline or its argument
            if not re.search(re.escape(flag) + r"(?![\w-])", helps[cmd]):
                found.append((no, cmd, flag))
    return found


def main():
    src, cli = sys.argv[1], sys.argv[2]
    helps = {}
    planted = unknown_flags("    chainrule grad --model m.safetensors --no-such-flag 3\n", helps, cli)
    if [f for _, _, f in planted] != ["--no-such-flag"]:
        sys.exit(f"readme_flags: a planted unknown flag was not reported: {planted}")
    with open(f"{src}/README.md", encoding="utf-8") as f:
        text = f.read()
    lines = sum(1 for line in text.splitlines() if LINE.search(line))
    if lines < 60:
        sys.exit(f"readme_flags: only {lines} `chainrule COMMAND` lines found in README.md: the pattern is broken")
    bad = unknown_flags(text, helps, cli)
    for no, cmd, flag in bad:
        print(f"README.md:{no}: `chainrule {cmd}` has no option {flag} (see chainrule {cmd} --help)")
    if bad:
        sys.exit(1)
    print(f"readme_flags: {lines} `chainrule COMMAND` lines of README.md, every option in its command's --help")


main()
