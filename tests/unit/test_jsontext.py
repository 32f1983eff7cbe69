"""Lone surrogates in JSON text (``tornadohub/jsontext.py``): found, and replaced upstream-side."""

from __future__ import annotations

import pytest

from tornadohub import jsontext


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b'"half \\ud83d"', "half \ufffd"),
        (b'"\\udc00\\ud800"', "\ufffd\ufffd"),  # reversed halves are two lone ones
        (b'"\\ud83d\\ude00"', "\U0001f600"),  # a pair is a character
        (b'"\\\\ud800"', "\\ud800"),  # an escaped backslash, then text
        (
            b'{"k\\uDBFF": ["x", {"y": "\\uDFFF"}, 1, null]}',
            {"k\ufffd": ["x", {"y": "\ufffd"}, 1, None]},
        ),
        ('"str \\ud800"', "str \ufffd"),
    ],
)
def test_an_upstreams_lone_surrogates_become_replacement_characters(
    text: bytes | str, value: object
) -> None:
    assert jsontext.loads(text) == value


def test_values_without_lone_surrogates_are_left_alone() -> None:
    value = {"a": ["\U0001f600", {"b": "plain"}]}
    assert not jsontext.has_lone_surrogate(value)
    assert jsontext.has_lone_surrogate({"a": [{"b": "\ud800"}]})
    assert jsontext.has_lone_surrogate({"\udfff": 1})
    assert not jsontext.may_have_surrogates(b'{"a": "\\u00e9"}')


def test_an_upstreams_nan_and_infinities_become_null() -> None:
    text = b'{"a": NaN, "b": [Infinity, -Infinity, 1e999, -1e999, 1.5, 2]}'
    assert jsontext.loads(text) == {"a": None, "b": [None, None, None, None, 1.5, 2]}


def test_an_upstreams_answer_too_deep_to_write_on_becomes_an_error_answer() -> None:
    deep = b"[" * 201 + b"]" * 201
    answer = jsontext.loads(b'{"jsonrpc": "2.0", "id": 7, "result": {"x": ' + deep + b"}}")
    assert answer["id"] == 7 and answer["error"]["code"] == -32603
    assert jsontext.loads(b"[" * 200 + b"]" * 200) is not None  # within the limit
    with pytest.raises(ValueError):
        jsontext.loads(b'{"jsonrpc": "2.0", "method": "x", "params": {"a": ' + deep + b"}}")


def test_finite_finds_an_infinity_anywhere() -> None:
    assert jsontext.finite({"a": [1.5, {"b": 2, "c": "Infinity"}]})
    assert not jsontext.finite({"a": [1, {"b": float("inf")}]})
    assert not jsontext.finite({"a": -float("inf")})


def test_utf8_text_is_read_with_or_without_a_byte_order_mark() -> None:
    line = '{"text": "é ✓"}'.encode()
    assert jsontext.loads(line) == jsontext.loads(b"\xef\xbb\xbf" + line) == {"text": "é ✓"}
    with pytest.raises(ValueError):  # not UTF-8: the line is not JSON-RPC
        jsontext.loads(b'{"text": "\xff"}')


@pytest.mark.parametrize(
    ("text", "answer_id"),
    [
        (b'{"jsonrpc":"2.0","id":3,"result":{"tools":[oops}', 3),
        (b'  { "id" : "hub-7" , "error": {bad', "hub-7"),
        (b'{"id":2,"result":{"a":1}, junk', 2),  # the members parse; what follows does not
        (b'{"id":4,"result":' + b"[" * 5000, 4),  # too deep to parse, not to read the id
        (b'{"result":{bad, "id":3}', None),  # the id comes after what breaks
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{bad', None),  # a request
        (b'{"id":1,"method":"x","result":{bad', None),
        (b'{"id":5,"params":{bad', None),  # neither result nor error reached
        (b'{"id":true,"result":x', None),
        (b'{"id":1.5,"result":x', None),
        (b'{"id":6,"result"', None),
        (b"[{", None),
        (b"junk", None),
        (b"", None),
        (b"\xff{", None),
    ],
)
def test_a_broken_answer_shows_its_id_when_its_top_level_reads_that_far(
    text: bytes, answer_id: int | str | None
) -> None:
    assert jsontext.broken_answer_id(text) == answer_id
    if answer_id is not None:
        answer = jsontext.error_answer(answer_id, jsontext.PARSE_ERROR, "Failed")
        assert answer == {
            "jsonrpc": "2.0",
            "id": answer_id,
            "error": {"code": -32700, "message": "Failed"},
        }
