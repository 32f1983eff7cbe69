"""JSON text the hub could not write again: lone surrogates, and an upstream's ``NaN``.

JSON's grammar lets a string carry ``\\ud800`` alone, and Python's parser makes it a
``str`` that no UTF-8 writer takes (``pydantic_core.to_json``, ``str.encode``): the hub
fails when it writes such a value on (RFC 8259 section 8.2 leaves their handling open).
JavaScript strings are UTF-16, so Node servers make them whenever they cut a string
between the two halves of an emoji, and ``JSON.stringify`` writes them as escapes.

* From a client, such a body is refused (:func:`tornadohub.policy.parse_json`).
* From an upstream, :func:`loads` parses its message and puts U+FFFD (the replacement
  character) for each lone surrogate, as a UTF-8 encoder for the web does: one server's
  broken text then reaches the client as text, and never breaks a list, a call or a
  session of the hub's.

An upstream's answer nested past what the hub's writers take becomes an error answer: the
client is told, instead of the hub failing to write it (a dropped connection, a lost legacy
answer).

An upstream's ``NaN``, ``Infinity`` (not JSON, but Python's ``json.dumps`` writes them) or
``1e999`` becomes null, as ``JSON.stringify`` writes them: no answer of the hub's carries
one (REST answered ``{"x":NaN}``, which a JSON client cannot read).

:func:`finite` finds the infinity a lenient parser makes of ``1e999`` (the ``/mcp`` fast
path leaves such a message to the strict parser).

Only an escape can make a surrogate (UTF-8 cannot encode one), so a message without
``\\uD8``..``\\uDF`` is never walked. A leaf module: it imports nothing from the package.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from typing import Any, Final

#: A ``\\uD800``-``\\uDFFF`` escape (or text that looks like one after an escaped backslash).
SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_TEXT: Final = re.compile(r"\\u[dD][89a-fA-F]")
#: A surrogate code point in a parsed string: a pair was joined by the parser, so it is lone.
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
REPLACEMENT: Final = "\ufffd"


def may_have_surrogates(text: bytes | str) -> bool:
    """Whether *text* has an escape that may have made a lone surrogate."""
    if isinstance(text, str):
        return _SURROGATE_ESCAPE_TEXT.search(text) is not None
    return SURROGATE_ESCAPE.search(text) is not None


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string of the parsed *value* (keys included) holds a lone surrogate."""
    return any(_SURROGATE.search(text) is not None for text in _strings(value))


def _null(_constant: str) -> None:
    return None


def _float(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None  # 1e999


#: Reads ``NaN``, ``Infinity``, ``-Infinity`` (Python's ``json.dumps`` writes them) and
#: numbers past a float's range as null, which ``JSON.stringify`` writes for them: the
#: hub's answers stay JSON.
_UPSTREAM: Final = json.JSONDecoder(parse_constant=_null, parse_float=_float)


#: The deepest message the hub takes from an upstream: its writers (``pydantic_core.to_json``)
#: fail past 255 levels, with the hub's envelope around the value.
MAX_DEPTH: Final = 200
_BOM: Final = codecs.BOM_UTF8
INTERNAL_ERROR: Final = -32603
PARSE_ERROR: Final = -32700
#: The message of the error answer that stands for an answer too deep to write on.
TOO_DEEP: Final = f"Answer nested deeper than {MAX_DEPTH} levels"


def loads(text: bytes | str) -> Any:
    """``json.loads`` for an upstream's message: lone surrogates become U+FFFD, ``NaN`` and
    the infinities null; an answer nested deeper than :data:`MAX_DEPTH` becomes an error
    answer (-32603), and any other message so deep is refused (``ValueError``)."""
    if isinstance(text, bytes):  # "utf-8-sig" is a Python codec: 0.7 µs more per message
        value = _UPSTREAM.decode(text.decode("utf-8-sig" if text[:3] == _BOM else "utf-8"))
    else:
        value = _UPSTREAM.decode(text)
    if may_have_surrogates(text) and has_lone_surrogate(value):
        value = _replaced(value)
    if nested_deeper(text, value, MAX_DEPTH):
        return _too_deep(value)
    return value


def nested_deeper(text: bytes | str, value: Any, limit: int) -> bool:
    """Whether *value*, parsed from *text*, nests deeper than *limit*: *text*'s brackets
    are counted first (no deeper than that), the value walked only when they could be."""
    return _opens(text) > limit and _deeper_than(value, limit)


def _opens(text: bytes | str) -> int:
    """How many arrays and objects *text* may open: no deeper than that (a fast count)."""
    if isinstance(text, str):
        return text.count("[") + text.count("{")
    return text.count(b"[") + text.count(b"{")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether *value* nests deeper than *limit* (only containers are visited)."""
    level: list[Any] = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item
            below += [child for child in children if isinstance(child, dict | list)]
        level = below
    return False


def _too_deep(message: Any) -> dict[str, Any]:
    """The error answer that stands for an answer too deep to write on; else ValueError."""
    if (
        isinstance(message, dict)
        and "id" in message
        and ("result" in message or "error" in message)
    ):
        return error_answer(message["id"], INTERNAL_ERROR, TOO_DEEP)
    raise ValueError(f"message nested deeper than {MAX_DEPTH} levels")


def error_answer(answer_id: Any, code: int, message: str) -> dict[str, Any]:
    """The error answer to request *answer_id* that stands for an answer the hub cannot
    pass on as it came."""
    return {"jsonrpc": "2.0", "id": answer_id, "error": {"code": code, "message": message}}


def answer_id(message: Any) -> int | str | None:
    """The id of *message* when it is an answer (a ``result`` or an ``error``, no
    ``method``) with an id of an integer or a string; else None."""
    if not isinstance(message, dict) or "method" in message:
        return None
    if "result" not in message and "error" not in message:
        return None
    found = message.get("id")
    return found if isinstance(found, int | str) and not isinstance(found, bool) else None


#: Whitespace between JSON tokens (matches the empty string too).
_BLANK: Final = re.compile(r"[ \t\n\r]*")
_PLAIN: Final = json.JSONDecoder()


def _past_blanks(text: str, position: int) -> int:
    found = _BLANK.match(text, position)
    assert found is not None  # the pattern matches the empty string
    return found.end()


def broken_answer_id(text: bytes | str) -> int | str | None:
    """The id of an answer that is not JSON, when its top level reads far enough to show
    one: ``{"jsonrpc":"2.0","id":3,"result":{"tools":[oops`` is an answer to request 3.

    The members are read in order until one does not parse; the text counts as an answer
    when an ``id`` was read and a ``result`` or ``error`` member was reached, and no
    ``method`` (a server's own request is never taken for one). The request then gets a
    parse error at once, instead of waiting for its timeout.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    position = _past_blanks(text, 0)
    if text[position : position + 1] != "{":
        return None
    members: dict[str, Any] = {}  # as read; the one that breaks is reached, with no value
    while True:
        try:
            key, position = _PLAIN.raw_decode(text, _past_blanks(text, position + 1))
            position = _past_blanks(text, position)
            if not isinstance(key, str) or text[position : position + 1] != ":":
                break
            members.setdefault(key, None)
            members[key], position = _PLAIN.raw_decode(text, _past_blanks(text, position + 1))
        except (ValueError, RecursionError):
            break
        position = _past_blanks(text, position)
        if text[position : position + 1] != ",":
            break
    return answer_id(members)


def _strings(value: Any) -> list[str]:
    """Every string of *value*, keys included, without recursion."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            found.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _replaced(value: Any) -> Any:
    """*value* with U+FFFD for every surrogate of its strings (a copy, without recursion)."""

    def fix(item: Any) -> Any:
        if isinstance(item, str):
            return _SURROGATE.sub(REPLACEMENT, item)
        if isinstance(item, dict):
            copy = {_SURROGATE.sub(REPLACEMENT, key): child for key, child in item.items()}
            pending.extend((copy, key) for key in copy)
            return copy
        if isinstance(item, list):
            items = list(item)
            pending.extend((items, index) for index in range(len(items)))
            return items
        return item

    pending: list[tuple[Any, Any]] = []
    root = fix(value)
    while pending:
        container, slot = pending.pop()
        container[slot] = fix(container[slot])
    return root


def finite(value: Any) -> bool:
    """Whether every number of *value* is finite.

    ``pydantic_core.from_json`` (the ``/mcp`` fast path's parser) reads a number past a
    float's range (``1e999``) as infinity, which ``to_json`` writes upstream as
    ``Infinity``: not JSON (a Node server's parser drops the line, and the call waits for its
    timeout). Walks values, not bytes: a long text is one step.
    """
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float) and math.isinf(item):
            return False
    return True
