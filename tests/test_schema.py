"""The record schema: released files are frozen, the fast and the slow validator agree."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from nameplate import schema, sources
from nameplate.errors import RecordValidationError
from nameplate.record import Record
from tests.conftest import DATA, ROOT

#: sha256 of every released schema file. A released file is never edited: a change is a new
#: SchemaVer version (MODEL.REVISION.ADDITION) in a new file.
RELEASED = {
    "record/record-1.0.0.schema.json": "0ec5a5468249026181dcd05014556a5446cfd93dafb3c435345b0f1a4f599601",
    "record/record-1.1.0.schema.json": "15c8a82544b7931cffcf3ad7dfd7735e9b5f6df3c21402661c3bcbe4f9ec73ed",
    "record/record-1.2.0.schema.json": "02f47b9f06d83d18ab0835776276930c085d4fe570021a2f551069a3a2e227c7",
    "host/host-1.0.0.schema.json": "1fd51059cc801a29ecd313effbfb5dbeb30e01a4b78e85c3dc434c91917186d0",
    "host/host-1.1.0.schema.json": "373eace8d871aad589de36098e6bf611d4a23dd1848284099b60307509bddece",
}


def fixture_records() -> list[Record]:
    out = []
    for path in (
        "spack/spack1.3-fake-store/opt/spack",
        "spack/spack0.23-fake-store/opt/spack",
        "spack/spack1.3-cuda-store/opt/spack",
        "spack/spack1.3-fake-store/env",
        "easybuild/install",
    ):
        out.append(sources.extract(DATA / path, combined=True))
    return out


def test_released_schema_files_are_unchanged() -> None:
    for name, digest in RELEASED.items():
        actual = hashlib.sha256((ROOT / "schemas" / name).read_bytes()).hexdigest()
        assert actual == digest, (
            f"schemas/{name} was edited after release; add a new version instead"
        )


def test_every_released_version_is_registered() -> None:
    files = {str(p.relative_to(ROOT / "schemas")) for p in (ROOT / "schemas/record").glob("*.json")}
    assert files == set(schema.RELEASED.values())
    hosts = {str(p.relative_to(ROOT / "schemas")) for p in (ROOT / "schemas/host").glob("*.json")}
    assert hosts == set(schema.HOST_RELEASED.values())
    assert set(RELEASED) == files | hosts  # every released file is pinned


@pytest.mark.parametrize("record", fixture_records(), ids=lambda r: r.subject.kind)
def test_fast_and_slow_validators_agree_on_fixtures(record: Record) -> None:
    data = record.to_dict()
    name = schema.RELEASED[data["schema_version"]]
    assert schema._fast(name).is_valid(data)
    assert list(schema._slow(name).iter_errors(data)) == []


BROKEN = [
    ({"components": [{"id": "x", "name": "x"}]}, "'version' is a required property"),
    ({"hpc": {"mpi": {"implementation": "x", "abi": "intel"}}}, "is not one of"),
    ({"serial": "not-a-urn"}, "does not match"),
    ({"provenance": {"generator": {"name": "n"}, "extracted_at": "yesterday"}}, "date-time"),
    ({"dependencies": [{"dependent": "a", "dependency": "b", "types": []}]}, "should be non-empty"),
    ({"unexpected": 1}, "Additional properties"),
]


@pytest.mark.parametrize(("change", "message"), BROKEN)
def test_both_validators_reject_broken_records(change: dict, message: str) -> None:  # type: ignore[type-arg]
    data = {
        **json.loads((ROOT / "examples/records/spack-hdf5-openmpi-icelake.json").read_text()),
        **change,
    }
    name = schema.RELEASED[schema.SCHEMA_VERSION]
    assert not schema._fast(name).is_valid(data)
    with pytest.raises(RecordValidationError) as info:
        schema.validate(data)
    assert message in str(info.value)
    assert all(path.startswith("$") for path, _ in info.value.errors)


def test_every_error_is_reported_with_its_path() -> None:
    data = json.loads((ROOT / "examples/records/spack-hdf5-openmpi-icelake.json").read_text())
    data["components"][0]["version"] = 3
    data["components"][1]["kind"] = "wrong"
    with pytest.raises(RecordValidationError) as info:
        schema.validate(data)
    paths = [p for p, _ in info.value.errors]
    assert "$.components[0].version" in paths and "$.components[1].kind" in paths


def test_unknown_schema_version() -> None:
    with pytest.raises(RecordValidationError, match="unknown schema version"):
        schema.validate({"schema_version": "9.9.9"})


def test_wheel_carries_schemas_and_vocab(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-1500:] + built.stderr[-1500:]
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "nameplate/_data/schemas/record/record-1.0.0.schema.json" in names
    assert "nameplate/_data/vocab/context.jsonld" in names
    assert any(
        n.startswith("nameplate/spack_extension/spack-nameplate/nameplate/cmd/") for n in names
    )


def test_a_lone_surrogate_in_a_key_is_judged_not_raised() -> None:
    """jsonschema-rs cannot take a key holding a lone surrogate (a ``\\ud800`` JSON escape):
    it raised UnicodeEncodeError out of ``nameplate validate``/``show`` (found by
    tests/property/test_decode_fuzz.py). The other validator judges such a record."""
    data = json.loads((ROOT / "examples/records/spack-hdf5-openmpi-icelake.json").read_text())
    data["annotations"] = {"note\ud800": "x"}  # a mapping of any keys: valid
    schema.validate(data)
    assert Record.loads(json.dumps(data)).annotations == {"note\ufffd": "x"}
    data["\ud800"] = 1  # an unknown field
    with pytest.raises(RecordValidationError, match="Additional properties"):
        schema.validate(data)
