"""Brace matching shared by the ``${...}`` placeholders and the ``{a,b}`` watch globs.

A leaf module: plain string scanning, nesting counted, no escapes.
"""

from __future__ import annotations


def matching_brace(text: str, start: int) -> int:
    """Index of the ``}`` that closes the ``{`` just before *start*, or -1."""
    depth = 1
    for index in range(start, len(text)):
        char = text[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
    return -1


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """*text* split at each *separator* outside nested braces."""
    parts: list[str] = []
    depth = 0
    begin = 0
    for index, char in enumerate(text):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[begin:index])
            begin = index + 1
    parts.append(text[begin:])
    return parts
