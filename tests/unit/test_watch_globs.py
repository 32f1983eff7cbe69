"""Dev-mode ``watch`` globs (``tornadohub.watch.glob_to_regex``), braces included."""

from __future__ import annotations

import pytest

from tornadohub.watch import glob_to_regex


@pytest.mark.parametrize(
    ("pattern", "matching", "other"),
    [
        ("**/*.py", ["a.py", "d/e/a.py"], ["a.pyc", "a.py/x"]),
        ("*.py", ["a.py"], ["d/a.py"]),
        ("src/?.js", ["src/a.js"], ["src/ab.js", "src//.js"]),
        # the form mcp-hub documents
        ("src/**/*.{ts,js}", ["src/a.ts", "src/x/y/b.js"], ["src/a.py", "lib/a.ts", "src/a.tsx"]),
        # braces in directory parts, nested braces
        (
            "{src,lib}/**/*.{ts,{m,c}js}",
            ["lib/deep/x.mjs", "src/x.cjs", "src/x.ts"],
            ["test/x.ts", "src/x.js", "srclib/x.ts"],
        ),
        ("{,pre-}x.txt", ["x.txt", "pre-x.txt"], ["prex.txt"]),
        ("{a,b{c,d}e}.py", ["a.py", "bce.py", "bde.py"], ["be.py", "b{c,d}e.py"]),
        # no comma, or not closed: literal, as in brace expansion
        ("a{b}c.js", ["a{b}c.js"], ["abc.js"]),
        ("x{a,.js", ["x{a,.js"], ["xa.js"]),
        ("file(1)+.{js,ts}", ["file(1)+.js", "file(1)+.ts"], ["file1.js"]),
    ],
)
def test_globs_match_whole_relative_paths(
    pattern: str, matching: list[str], other: list[str]
) -> None:
    regex = glob_to_regex(pattern)
    assert [path for path in matching if not regex.match(path)] == []
    assert [path for path in other if regex.match(path)] == []
