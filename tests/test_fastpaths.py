"""The optional fast paths (orjson, the paused collector) give the standard library's results."""

from __future__ import annotations

import datetime
import gc
import json

import pytest

from nameplate import _gc, _io, normalize


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": [1, 2.5, "x", null, true], "b": {"c": "\\u00e9"}}',
        b"NaN",  # only Python's parser takes these: orjson refuses, json answers
        b'{"big": 123456789012345678901234567890}',
        b'"\\ud800"',
        '{"a": 1}'.encode("utf-16"),
        b'\xef\xbb\xbf{"bom": 1}',
    ],
)
def test_json_loads_equals_the_standard_library(text: bytes) -> None:
    expected = json.loads(text)
    got = _io.json_loads(_io.json_text(text))
    assert json.dumps(got) == json.dumps(expected)


def test_json_loads_errors_are_the_standard_library_s(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(json.JSONDecodeError, match="Expecting"):
        _io.json_loads(b'{"a": ')
    monkeypatch.setattr(_io, "_FAST_LOADS", None)  # no orjson: the same answers
    assert _io.json_loads(b'{"a": [1]}') == {"a": [1]}


def test_a_large_document_is_parsed_from_text() -> None:
    doc = json.dumps({"k": ["x" * 100] * 20_000}).encode()
    assert len(doc) > _io._FAST_LIMIT
    text = _io.json_text(doc)
    assert isinstance(text, str)
    assert _io.json_loads(text) == json.loads(doc)


def test_collector_paused_and_restored() -> None:
    assert gc.isenabled()
    with _gc.paused():
        assert not gc.isenabled()
        with _gc.paused():  # re-entrant
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with _gc.paused():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "value",
    [0, 0.0, 1.5, 1_764_153_215, 1_764_153_215.999_999_4, 1_764_153_215.999_99, 253_402_300_799.0],
)
def test_iso_time_fast_path_equals_datetime(value: float) -> None:
    moment = datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    assert normalize.iso_time(value) == moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("data", "long"),
    [(b"1234567890123456789", True), (b"x 123456789012345678 y", False), (b"", False)],
)
def test_a_run_of_19_digits_is_found(data: bytes, long: bool) -> None:
    assert _io._long_number(data) is long
