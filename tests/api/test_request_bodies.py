"""JSON bodies no route should read (repeated keys, deep nesting, NUL characters), and NUL
characters in a request's target."""

from __future__ import annotations

import asyncio
import json

import pytest

from propbridge.api.errors import ApiError
from propbridge.api.request_bodies import (
    MAX_JSON_DEPTH,
    NOT_JSON,
    checked_body,
    checked_json_body,
    json_body_problem,
    nul_in_target,
)


def _refused(raw: bytes) -> ApiError:
    problem = json_body_problem(raw)
    assert problem is not None, raw
    assert (problem.status, problem.code) == (400, "invalid_request")
    return problem


def _issue_path(problem: ApiError) -> list[str | int]:
    assert problem.details is not None
    [issue] = problem.details["issues"]
    path: list[str | int] = issue["path"]
    return path


def test_a_repeated_key_is_named() -> None:
    top = _refused(b'{"amount": 1, "note": "x", "amount": 2}')
    assert "'amount'" in top.message and _issue_path(top) == ["amount"]
    nested = _refused(b'{"a": [{"b": 1, "c": 2, "b": 1}]}')
    assert "'b'" in nested.message and _issue_path(nested)[-1] == "b"


def test_the_same_key_in_different_objects_is_fine() -> None:
    assert json_body_problem(b'{"a": {"id": 1}, "b": {"id": 1}, "id": 1}') is None


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    def arrays(depth: int) -> bytes:
        return b"[" * depth + b"]" * depth

    def objects(depth: int) -> bytes:
        return b'{"k":' * (depth - 1) + b"{}" + b"}" * (depth - 1)

    assert json_body_problem(arrays(MAX_JSON_DEPTH)) is None
    assert json_body_problem(objects(MAX_JSON_DEPTH)) is None
    for deep in (arrays(MAX_JSON_DEPTH + 1), objects(MAX_JSON_DEPTH + 1), arrays(100_000)):
        problem = _refused(deep)
        assert f"deeper than {MAX_JSON_DEPTH}" in problem.message


def test_a_nul_character_is_refused_with_where_it_is() -> None:
    in_list = _refused(b'{"a": [0, {"b": "x\\u0000y"}]}')
    assert "NUL" in in_list.message and _issue_path(in_list) == ["a", 1, "b"]
    assert _issue_path(_refused(b'"\\u0000"')) == []
    assert _issue_path(_refused(b'{"ok": "", "k\\u0000": 1}')) == ["k\x00"]


def test_valid_or_non_json_bodies_are_left_to_the_route() -> None:
    body = {"name": "x", "items": [1, 2.5, None, True, {"nested": ["é", "\\u0001"]}]}
    for fine in (
        json.dumps(body).encode(),
        b"[]",
        b"3",
        b'"text with \\\\u0000 escaped backslash"',
        b"not json",
        b'{"a": 1',
        b"\xff\xfe\x00",
        b"",
    ):
        assert json_body_problem(fine) is None, fine


def test_a_nul_in_the_target_is_found_raw_or_escaped() -> None:
    assert not nul_in_target("/v1/residents/", b"limit=10&name=a%20b")
    assert nul_in_target("/v1/resi\x00dents/", b"")
    assert nul_in_target("/v1/residents/", b"name=a%00b")
    assert nul_in_target("/v1/residents/", b"name=a\x00b")


def test_large_bodies_get_the_answers_small_ones_get() -> None:
    """2 MiB bodies (checked off the event loop) of the shapes that cost a check most."""
    tiny = b",".join([b"{}"] * 600_000)
    nested = b",".join([b"[" * 30 + b"]" * 30] * 30_000)
    assert asyncio.run(checked_json_body(b"[" + tiny + b"]"))[0] is None
    assert asyncio.run(checked_json_body(b"[" + nested + b"]"))[0] is None
    repeated = _problem_of(b"[" + tiny + b',{"a": 1, "b": 2, "a": 3}]')
    assert "'a'" in repeated.message
    deep = _problem_of(b"[" + nested + b"," + b"[" * 33 + b"]" * 33 + b"]")
    assert f"deeper than {MAX_JSON_DEPTH}" in deep.message
    nul = _problem_of(b"[" + tiny + b',{"k": ["", "\\u0000"]}]')
    assert _issue_path(nul) == [600_000, "k", 1]


def _problem_of(raw: bytes) -> ApiError:
    problem, _document = asyncio.run(checked_json_body(raw))
    assert problem is not None
    return problem


def test_a_nul_is_found_in_any_encoding_the_parser_takes() -> None:
    for encoding in ("utf-16", "utf-32", "utf-8-sig"):
        problem = _refused('{"a": ["x", "\\u0000"]}'.encode(encoding))
        assert _issue_path(problem) == ["a", 1], encoding


def test_escaped_quotes_and_brackets_in_strings_do_not_count() -> None:
    assert json_body_problem(b'{"a": "[[[[\\"{{{{", "b": "\\\\"}' + b"") is None
    text = b'"' + b"[" * 40 + b'"'
    assert json_body_problem(b"[" + text + b"]") is None
    problem = _refused(b'{"\\"[": {"x": "\\\\\\u0000"}}')
    assert _issue_path(problem) == ['"[', "x"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": [1, 2.5, "x", null, true], "b": {"c": {}}}',
        '{"é": "\\u00e9", "n": 12345678901234567890}'.encode("utf-16"),
        b"[]",
        b'"just a string"',
    ],
)
def test_the_checks_hand_over_what_the_routes_parser_makes(raw: bytes) -> None:
    """Routes that read a large body take the checks' document instead of parsing it again."""
    problem, document = checked_body(raw)
    assert problem is None and document == json.loads(raw)
    assert checked_body(b"{not json")[1] is NOT_JSON
    assert checked_body(b'{"a": 1, "a": 2}')[1] is NOT_JSON
