"""The fast decoder (``_decode``) builds what the checked conversion (``_codec.from_dict``)
builds, and where it does not take the data, the checked conversion's error is raised."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from nameplate import _codec, _decode
from nameplate.errors import RecordError
from nameplate.record import Component, Record
from tests.formats import _support as S

EXAMPLES = S.example_records()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_fast_decoder_builds_what_the_checked_conversion_builds(name: str) -> None:
    data = EXAMPLES[name].to_dict()
    fast = Record.from_dict(data)
    assert fast == _codec.from_dict(Record, data) == EXAMPLES[name]
    assert fast.to_json() == EXAMPLES[name].to_json()


def _bad(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for change in (
        lambda d: d["components"][0].update(name=5),
        lambda d: d["components"][0].update(kind="spaceship"),
        lambda d: d["components"][0].update(surprise=1),
        lambda d: d["components"][0].pop("id"),
        lambda d: d["components"][0].update(options={"x": 1.5}),
        lambda d: d["dependencies"][0].update(types="link"),
        lambda d: d.update(roots={}),
    ):
        bad = copy.deepcopy(data)
        change(bad)
        out.append(bad)
    return out


@pytest.mark.parametrize("index", range(7))
def test_errors_are_the_checked_conversion_s(index: int) -> None:
    record = next(r for r in EXAMPLES.values() if r.components and r.dependencies)
    bad = _bad(json.loads(record.to_json()))[index]
    with pytest.raises(RecordError) as checked:
        _codec.from_dict(Record, bad)
    with pytest.raises(RecordError) as fast:
        Record.from_dict(bad)
    assert str(fast.value) == str(checked.value)


def test_lone_surrogates_are_replaced_as_the_record_replaces_them() -> None:
    data = {"id": "a\ud800", "name": "n", "version": "1", "options": {"k\udc80": "v\udfff"}}
    fast = _decode.from_dict(Component, data)
    assert fast.id == "a\ufffd" and dict(fast.options) == {"k\ufffd": "v\ufffd"}
    record = next(iter(EXAMPLES.values()))
    doc = json.loads(record.to_json())
    doc["subject"]["name"] = "x\ud800"
    assert Record.from_dict(doc).subject.name == "x\ufffd"


@pytest.mark.parametrize("where", ["record", "component"])
def test_an_unknown_field_set_to_null_is_refused_as_the_checked_conversion_refuses_it(
    where: str,
) -> None:
    # found by tests/property/test_decode_fuzz.py: the decoder skipped a null before it
    # looked the key up, so an unknown field holding null was taken
    doc = json.loads(next(iter(EXAMPLES.values())).to_json())
    (doc if where == "record" else doc["components"][0])["surprise"] = None
    with pytest.raises(RecordError) as checked:
        _codec.from_dict(Record, copy.deepcopy(doc))
    with pytest.raises(RecordError) as fast:
        Record.from_dict(doc)
    assert str(fast.value) == str(checked.value)
