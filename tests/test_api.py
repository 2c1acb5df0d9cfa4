"""The Python API: Record.load/loads/dump, extract (one record) and extract_all (a list), and
public modules that show only their public names and document them."""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

import pytest

import nameplate
from nameplate.errors import RecordError, RecordValidationError, SourceError
from nameplate.record import Record
from tests.conftest import DATA, ROOT

EXAMPLE = ROOT / "examples/records/spack-hdf5-openmpi-icelake.json"
STORE = DATA / "spack/spack1.3-fake-store/opt/spack"
PREFIX = next(STORE.glob("*/zlib-ng-*"))

#: The modules the API reference documents (docs/api/*.md): each is public.
PUBLIC = [
    "nameplate",
    "nameplate.record",
    "nameplate.schema",
    "nameplate.sources",
    "nameplate.formats",
    "nameplate.oci",
    "nameplate.compat",
    "nameplate.errors",
]


def test_record_load_loads_dump_round_trip(tmp_path: Path) -> None:
    record = Record.load(EXAMPLE)
    assert Record.loads(EXAMPLE.read_text()) == record
    assert Record.loads(EXAMPLE.read_bytes()) == record
    out = tmp_path / "sub" / "copy.json"
    record.dump(out)
    assert out.read_text() == record.to_json()
    assert Record.load(out) == record
    assert nameplate.Record is Record


def test_record_load_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(SourceError, match=r"bad\.json: not valid JSON"):
        Record.load(bad)
    bad.write_text("[]")
    with pytest.raises(RecordError, match=r"bad\.json: \$: a record is a JSON object"):
        Record.load(bad)
    doc = json.loads(EXAMPLE.read_text())
    del doc["serial"]
    bad.write_text(json.dumps(doc))
    with pytest.raises(RecordValidationError, match=r"bad\.json: invalid record"):
        Record.load(bad)
    with pytest.raises(SourceError, match=r"no-such\.json"):
        Record.load(tmp_path / "no-such.json")
    with pytest.raises(RecordValidationError, match="<string>"):
        Record.loads(json.dumps(doc))


def test_extract_is_one_record_and_refuses_several_roots() -> None:
    with pytest.raises(SourceError) as caught:
        nameplate.extract(STORE, kind="spack")
    message = str(caught.value)
    assert "3 roots" in message and "hdf5" in message and "combined=True" in message
    combined = nameplate.extract(STORE, kind="spack", combined=True)
    assert len(combined.roots) == 3
    one = nameplate.extract(STORE, kind="spack", roots=("hdf5",))
    assert one.subject.name == "hdf5"
    prefix = nameplate.extract(PREFIX)
    assert prefix.subject.name == "zlib-ng"
    every = nameplate.extract_all(STORE, kind="spack")
    assert sorted(r.subject.name for r in every) == ["hdf5", "py-numpy", "zlib-ng"]


def test_dir_shows_only_public_names() -> None:
    import nameplate.compat.catalog  # a submodule imported is still not listed

    assert dir(nameplate) == ["Record", "__version__", "extract", "extract_all", "validate"]
    for name in PUBLIC:
        module = importlib.import_module(name)
        shown = dir(module)
        assert shown == sorted(module.__all__), name
        assert not {"Any", "TYPE_CHECKING", "annotations"} & set(shown), name


@pytest.mark.parametrize("name", PUBLIC)
def test_public_modules_document_every_public_name(name: str) -> None:
    module = importlib.import_module(name)
    assert inspect.getdoc(module), f"{name} has no docstring"
    for attr in module.__all__:
        obj = getattr(module, attr)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert inspect.getdoc(obj), f"{name}.{attr} has no docstring"
