# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
"""Checks that the C++ in docs/*.md is code that compiles, runs and prints what the pages show.

Usage: python3 check_docs.py SNIPPETS_EXE SNIPPETS_CPP DOCS_DIR [PAGE ...]   (ctest: docs.snippets)

Every ```cpp block of a page in DOCS_DIR must follow a `<!-- snippet: NAME -->` line and be, after
removing common indentation, exactly the code between `// [snippet NAME]` and `// [end]` in
SNIPPETS_CPP. The further PAGEs (README.md) are checked the same way, except that a ```cpp block
without a marker is allowed there (it is reported as not checked).
If the next fenced block (only blank lines between) has no language, it is the output the page
shows, and it must be exactly what SNIPPETS_EXE prints for that snippet. Every snippet of
SNIPPETS_CPP must appear on some page. SNIPPETS_EXE itself fails if a claim checked in
SNIPPETS_CPP is false.
"""
import difflib
import pathlib
import re
import subprocess
import sys
import textwrap

FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!--\s*snippet:\s*([\w-]+)\s*-->\s*$")


def snippets_in_source(text):
    """{name: code} from the `// [snippet NAME]` ... `// [end]` regions of the source."""
    found = {}
    for match in re.finditer(r"^[ \t]*// \[snippet ([\w-]+)\]\n(.*?)^[ \t]*// \[end\]\n", text,
                             re.M | re.S):
        found[match.group(1)] = textwrap.dedent(match.group(2))
    return found


def outputs_of(run_output):
    """{name: printed text} from the program's `[snippet NAME]` sections."""
    outputs = {}
    name = None
    for line in run_output.splitlines(keepends=True):
        header = re.match(r"^\[snippet ([\w-]+)\]$", line.rstrip("\n"))
        if header:
            name = header.group(1)
            outputs[name] = ""
        elif name is not None:
            outputs[name] += line
    return outputs


def blocks_in_page(path):
    """The fenced blocks of a page, in order: dicts with the first and past-the-end line index,
    the language, the code, and the snippet name of a marker line just before (or None)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    blocks = []
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        start = i
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            i += 1
        before = [line for line in lines[:start] if line.strip()]
        marker = MARKER.match(before[-1]) if before else None
        blocks.append({"start": start, "end": i + 1, "language": fence.group(1),
                       "code": "".join(lines[start + 1:i]),
                       "name": marker.group(1) if marker else None})
        i += 1
    return lines, blocks


def main():
    exe, source, docs = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
    extra = [pathlib.Path(page) for page in sys.argv[4:]]
    snippets = snippets_in_source(source.read_text(encoding="utf-8"))
    run = subprocess.run([exe], stdout=subprocess.PIPE, universal_newlines=True)
    sys.stdout.write(run.stdout)
    failures = 0 if run.returncode == 0 else 1
    if run.returncode != 0:
        print(f"FAIL {exe} exited with {run.returncode}")
    outputs = outputs_of(run.stdout)

    used = set()
    for page in sorted(docs.glob("*.md")) + extra:
        lines, blocks = blocks_in_page(page)
        for index, block in enumerate(blocks):
            if block["language"] != "cpp":
                continue
            name = block["name"]
            where = f"{page.name}:{block['start'] + 1}"
            if name is None and page in extra:
                print(f"--   {where}: a ```cpp block without a snippet marker, not checked")
                continue
            if name is None:
                print(f"FAIL {where}: a ```cpp block without a <!-- snippet: NAME --> line before it")
                failures += 1
                continue
            used.add(name)
            if name not in snippets:
                print(f"FAIL {where}: snippet '{name}' is not in {source.name}")
                failures += 1
                continue
            if textwrap.dedent(block["code"]) != snippets[name]:
                print(f"FAIL {where}: the page's code differs from snippet '{name}' in {source.name}:")
                sys.stdout.writelines(difflib.unified_diff(
                    textwrap.dedent(block["code"]).splitlines(keepends=True),
                    snippets[name].splitlines(keepends=True), page.name, source.name))
                failures += 1
                continue
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            adjacent = following is not None and following["language"] == "" and all(
                not line.strip() for line in lines[block["end"]:following["start"]])
            if not adjacent:
                print(f"ok   {where}: snippet '{name}' compiles and runs")
            elif following["code"] != outputs.get(name):
                print(f"FAIL {where}: the output shown at line {following['start'] + 1} is not "
                      f"what snippet '{name}' prints:\n{outputs.get(name)}")
                failures += 1
            else:
                print(f"ok   {where}: snippet '{name}' compiles, runs and prints what the page shows")
    for name in sorted(set(snippets) - used):
        print(f"FAIL snippet '{name}' of {source.name} is on no page")
        failures += 1
    print("all docs snippets checked" if failures == 0 else f"{failures} failed")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
