"""Glob patterns for tool, prompt and resource filters.

The syntax is fnmatch's, matched case-sensitively against the whole name, plus
shell-style braces:

* ``*`` any run of characters, including none and including ``/`` and ``__``
  (so ``file:///tmp/*`` covers a whole tree and ``github__*`` a whole server);
* ``?`` exactly one character;
* ``[abc]``, ``[a-z]`` one character of the set, ``[!abc]`` one not in it;
  ``[*]``, ``[?]``, ``[[]`` match the character itself (the only escape);
* ``{a,b,c}`` any of the alternatives, which may themselves hold patterns and
  nest (``{get,list}_*``, ``*_{issue{,s},pr}``); as in the shell, braces without
  a comma between them are characters, so a URI template written out
  (``fixture://items/{id}``) matches that template itself.

A ``{`` without its ``}`` (outside ``[...]``) is an error rather than a literal:
it is nearly always a typo, and a filter that silently matches nothing would
show or hide the wrong tools.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["GlobError", "GlobSet", "expand_braces"]

#: Upper bound on the alternatives one pattern may expand to (``{a,b}{c,d}`` is 4).
MAX_ALTERNATIVES = 256


class GlobError(ValueError):
    """A pattern that cannot be used; the message says why, without the pattern."""


def _bracket_end(pattern: str, start: int) -> int:
    """Index just past the ``[...]`` set opening at *start*, or *start* + 1 if unclosed.

    Same rule as fnmatch: a ``]`` right after ``[`` or ``[!`` belongs to the set.
    """
    i = start + 1
    if i < len(pattern) and pattern[i] == "!":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    close = pattern.find("]", i)
    return start + 1 if close < 0 else close + 1


def _split_top(body: str) -> list[str]:
    """*body* split on the commas that are not inside nested braces or brackets."""
    parts: list[str] = []
    depth = 0
    current = 0
    i = 0
    while i < len(body):
        char = body[i]
        if char == "[":
            i = _bracket_end(body, i)
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(body[current:i])
            current = i + 1
        i += 1
    parts.append(body[current:])
    return parts


def expand_braces(pattern: str) -> list[str]:
    """Every brace-free pattern *pattern* stands for, in order, duplicates removed."""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "[":
            i = _bracket_end(pattern, i)
            continue
        if char == "}":
            raise GlobError("has a '}' without its '{'")
        if char == "{":
            depth = 0
            j = i
            while j < len(pattern):
                if pattern[j] == "[":
                    j = _bracket_end(pattern, j)
                    continue
                if pattern[j] == "{":
                    depth += 1
                elif pattern[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            else:
                raise GlobError("has a '{' without its '}'")
            head, body, tail = pattern[:i], pattern[i + 1 : j], pattern[j + 1 :]
            tail_forms = expand_braces(tail)
            options = _split_top(body)
            literal = len(options) == 1  # no alternatives: the braces are characters
            results: list[str] = []
            for option in options:
                for option_form in expand_braces(option):
                    if literal:
                        option_form = f"{{{option_form}}}"
                    for tail_form in tail_forms:
                        results.append(head + option_form + tail_form)
                    if len(results) > MAX_ALTERNATIVES:
                        raise GlobError(f"expands to more than {MAX_ALTERNATIVES} alternatives")
            return list(dict.fromkeys(results))
        i += 1
    return [pattern]


@dataclass(frozen=True)
class GlobSet:
    """Some patterns compiled into one regular expression; ``matches`` is any-of."""

    patterns: tuple[str, ...]
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        forms = [form for pattern in self.patterns for form in expand_braces(pattern)]
        regex = re.compile("|".join(fnmatch.translate(form) for form in forms)) if forms else None
        object.__setattr__(self, "_regex", regex)

    @classmethod
    def of(cls, patterns: Iterable[str]) -> GlobSet:
        return cls(tuple(patterns))

    def matches(self, name: str) -> bool:
        return self._regex is not None and self._regex.match(name) is not None

    def __bool__(self) -> bool:
        return bool(self.patterns)
