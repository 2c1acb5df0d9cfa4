"""Records read a component at a time (``nameplate._streamload``, what the command line's
``load_record`` uses for a file) equal records read whole (``Record.load``); whatever that
reader does not take is read whole, so every error reads as before."""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from pathlib import Path

import pytest

from nameplate import _streamload, record
from nameplate._io import load_json_file
from nameplate.cli._output import load_record
from nameplate.errors import NameplateError
from nameplate.record import Dependency, Record
from tests.conftest import DATA, ROOT

RECORDS = sorted(
    [
        *(DATA / "compat" / "records").glob("*.json"),
        *(ROOT / "examples" / "records").glob("*.json"),
    ]
)


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_equal_to_the_whole_read(path: Path, tmp_path: Path) -> None:
    whole, data = Record.load(path), load_json_file(path)
    assert _streamload.load(path, limit=1 << 30) == whole
    # the same record written compact, its keys in another order
    compact = tmp_path / "compact.json"
    shuffled = dict(reversed(list(data.items())))
    compact.write_text(json.dumps(shuffled, separators=(",", ":")))
    assert _streamload.load(compact, limit=1 << 30) == whole


def test_small_values_are_shared() -> None:
    path = DATA / "compat" / "records" / "spack-hdf5-icelake-openmpi.record.json"
    rec = _streamload.load(path, limit=1 << 30)
    ids = {c.id: c.id for c in rec.components}
    for edge in rec.dependencies:
        assert edge.dependent is ids[edge.dependent]
        assert edge.dependency is ids[edge.dependency]
    targets = {id(c.target) for c in rec.components if c.target is not None}
    assert len(targets) < len([c for c in rec.components if c.target is not None])


def test_edges_built_directly_cover_every_field() -> None:
    names = {f.metadata.get("json", f.name) for f in dataclasses.fields(Dependency)}
    assert names == _streamload._EDGE_KEYS


def _floats(tp: object, seen: set[object]) -> bool:
    if tp is float:
        return True
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if tp in seen:
            return False
        seen.add(tp)
        hints = typing.get_type_hints(tp, vars(record))
        return any(_floats(h, seen) for h in hints.values())
    return any(_floats(a, seen) for a in typing.get_args(tp))


def test_a_record_holds_no_floats() -> None:
    """The exporters write JSON with orjson, which writes floats unlike ``json.dumps``
    (``1e16`` against ``1e+16``); records have no float field, so their exports agree."""
    assert not _floats(Record, set())


def _broken(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.json"
    path.write_text(text)
    return path


def _message(path: Path) -> str:
    with pytest.raises(NameplateError) as info:
        load_record(path)
    return str(info.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: text.replace('"name": "hdf5"', '"name": 5', 1), "$.components"),
        (lambda text: text.replace('"schema_version": "1.', '"schema_version": "9.', 1), "9."),
        (lambda text: text + "\n{}", "not valid JSON"),
        (lambda text: text.replace('"types": [', '"types": ["sometimes", ', 1), "sometimes"),
        # found by tests/property/test_decode_fuzz.py: a version that is not a string was
        # looked up in a set (a TypeError, not the schema's error)
        (lambda text: re.sub(r'("schema_version": )("[^"]*")', r"\1[\2]", text), "schema_version"),
        (lambda text: re.sub(r'("schema_version": )("[^"]*")', r"\1{\2: 1}", text), "schema_ver"),
    ],
)
def test_errors_read_as_before(tmp_path: Path, change: typing.Any, expected: str) -> None:
    source = DATA / "compat" / "records" / "spack-hdf5-icelake-openmpi.record.json"
    path = _broken(tmp_path, change(source.read_text()))
    with pytest.raises(_streamload.Fallback):
        _streamload.load(path, limit=1 << 30)
    message = _message(path)
    assert expected in message and str(path) in message
    with pytest.raises(NameplateError) as info:
        Record.load(path)
    assert str(info.value) == message


def test_a_field_of_a_later_schema_is_refused(tmp_path: Path) -> None:
    """The file's ``schema_version`` comes after its components: each one is checked against
    every released version, and the record against its own."""
    data = load_json_file(DATA / "compat" / "records" / "spack-hdf5-icelake-openmpi.record.json")
    data["schema_version"] = "1.0.0"
    data["components"][0]["versionsuffix"] = "-x"  # a 1.1.0 field
    path = _broken(tmp_path, json.dumps(data))
    with pytest.raises(_streamload.Fallback):
        _streamload.load(path, limit=1 << 30)
    assert "versionsuffix" in _message(path)
    data["schema_version"] = "1.1.0"
    path.write_text(json.dumps(data))
    assert load_record(path) == Record.load(path)


def test_the_size_limit_holds(tmp_path: Path) -> None:
    path = DATA / "compat" / "records" / "spack-hdf5-icelake-openmpi.record.json"
    with pytest.raises(_streamload.Fallback):
        _streamload.load(path, limit=1000)


def test_a_lone_surrogate_in_a_key_reads_as_the_whole_read(tmp_path: Path) -> None:
    # found by tests/property/test_decode_fuzz.py: jsonschema-rs raised UnicodeEncodeError
    # for such a key in a component, out of load_record
    data = load_json_file(DATA / "compat" / "records" / "spack-hdf5-icelake-openmpi.record.json")
    data["components"][0]["options"] = {"x\ud800": "y"}
    path = _broken(tmp_path, json.dumps(data))
    assert load_record(path) == Record.load(path)
    assert dict(load_record(path).components[0].options) == {"x\ufffd": "y"}
