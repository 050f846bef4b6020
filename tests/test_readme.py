#!/usr/bin/env python3
"""The README's API example is real code (suite readme).

Checks that the C block under README.md's "## API example" is, line for
line, examples/readme.c between its README-BEGIN and README-END markers,
and that the file compiles against the public headers with -Wall -Wextra
-Werror. A stale README fails here.

Usage: test_readme.py README.md examples/readme.c CC -IDIR...
"""
import re
import subprocess
import sys


def main():
    readme, example, cc, incs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    text = open(readme, encoding="utf-8").read()
    m = re.search(r"^## API example\n(.*?)^```c\n(.*?)^```\n", text, re.S | re.M)
    if not m:
        print("FAIL: README.md has no ```c block under '## API example'")
        return 1
    block = m.group(2).rstrip("\n").split("\n")
    src = open(example, encoding="utf-8").read()
    try:
        body = src.split("/* README-BEGIN */\n", 1)[1].split("/* README-END */", 1)[0]
    except IndexError:
        print(f"FAIL: {example} has no README-BEGIN / README-END markers")
        return 1
    body = body.rstrip("\n").split("\n")
    if block != body:
        for i, (a, b) in enumerate(zip(block + [""] * len(body), body + [""] * len(block))):
            if a != b:
                print(f"FAIL: README.md's API example differs from {example} at its line {i + 1}:")
                print(f"  README:  {a!r}")
                print(f"  example: {b!r}")
                break
        return 1
    print(f"ok: the README's API example is {example} ({len(body)} lines)")
    cmd = [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only"] + \
        ["-I" + i for i in incs] + [example]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print("FAIL: the API example does not compile:\n" + r.stdout + r.stderr)
        return 1
    print("ok: it compiles against the public headers (-Wall -Wextra -Werror)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
