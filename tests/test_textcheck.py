"""``Record`` holds Unicode only: the check by columns (``_textcheck``) says a record is clean
only when it is, and a lone surrogate anywhere is still replaced by U+FFFD."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from nameplate import _codec, _textcheck
from nameplate.errors import RecordError
from nameplate.record import Record
from tests.formats import _support as S

EXAMPLES = S.example_records()


def test_the_example_records_are_clean() -> None:
    assert all(_textcheck.is_clean(r) for r in EXAMPLES.values())


def _places(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Where a string is in JSON data: ("key", k) for a key, else the index or key."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*at, ("key", k))
            yield from _places(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _places(v, (*at, i))
    elif isinstance(value, str):
        yield at


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_lone_surrogate_in_any_string_is_replaced(name: str) -> None:
    text = EXAMPLES[name].to_json()
    checked = 0
    for place in _places(json.loads(text)):
        data = json.loads(text)
        parent = data
        for step in place[:-1]:
            parent = parent[step]
        last = place[-1]
        if isinstance(last, tuple):
            parent[last[1] + "\ud800"] = parent.pop(last[1])
        else:
            parent[last] += "\udc80"
        try:  # the checked conversion: the record's own __post_init__ does the work
            record = _codec.from_dict(Record, data)
        except RecordError:  # a name the record does not know, a value it does not take
            continue
        record.to_json().encode("utf-8")  # no UnicodeEncodeError: U+FFFD took its place
        assert "\ufffd" in record.to_json()
        checked += 1
    assert checked > 10


def test_a_record_holding_a_lone_surrogate_is_not_clean() -> None:
    import dataclasses

    from nameplate import _decode

    record = next(r for r in EXAMPLES.values() if r.components)
    fields = {f.name: getattr(record, f.name) for f in dataclasses.fields(Record)}
    first = dataclasses.replace(record.components[0])
    object.__setattr__(first, "name", "x\ud800")  # as no constructor would leave it
    fields["components"] = (first, *record.components[1:])
    assert not _textcheck.is_clean(_decode.new_unchecked(Record, fields))
    assert _textcheck.is_clean(_decode.new_unchecked(Record, {**fields, "components": ()}))
