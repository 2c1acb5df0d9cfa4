"""Every format is written as it is made (``formats.write``), to the very bytes of
``formats.encode``; Turtle, merged from per-component pieces, keeps its global order; an
export that fails leaves no file."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

from nameplate import formats
from nameplate.formats import _common, jsonld
from nameplate.record import Record
from tests.formats import _support as S
from tests.test_cli import run

EXAMPLES = S.example_records()


def _tricky() -> Record:
    """Ids that are prefixes of one another ('x' < 'x-y' < 'x/target' in IRI order), two
    edges between the same pair, a virtual on a build edge."""
    base = EXAMPLES["spack-hdf5-openmpi-icelake"]
    names = ["x", "x-y", "x.z", "x y", "xa", "x-", "x-y-z", "x_"]
    rename = {c.id: names[i] for i, c in enumerate(base.components[: len(names)])}
    comps = tuple(dataclasses.replace(c, id=rename.get(c.id, c.id)) for c in base.components)
    edges = [
        dataclasses.replace(
            d,
            dependent=rename.get(d.dependent, d.dependent),
            dependency=rename.get(d.dependency, d.dependency),
        )
        for d in base.dependencies
    ]
    edges.append(dataclasses.replace(edges[0], types=("run",)))
    edges.append(dataclasses.replace(edges[1], types=("build",), virtuals=("mpi",)))
    roots = tuple(rename.get(r, r) for r in base.roots)
    return dataclasses.replace(base, components=comps, dependencies=tuple(edges), roots=roots)


CASES = {**EXAMPLES, "tricky": _tricky()}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("fmt", sorted(formats.WRITERS))
def test_written_as_made_equals_encoded(name: str, fmt: str) -> None:
    record = CASES[name]
    out = io.BytesIO()
    formats.write(record, fmt, out)
    assert out.getvalue() == formats.encode(record, fmt)
    if fmt.endswith("json") or fmt.startswith(("spdx", "intoto")) or fmt == "jsonld":
        assert out.getvalue().endswith(b"\n") and json.loads(out.getvalue())


def test_turtle_keeps_its_order_across_components() -> None:
    """The merge of per-component blocks gives what one sort of every subject gives: blocks
    in subject order, and the same graph."""
    record = CASES["tricky"]
    text = formats.encode(record, "turtle").decode()
    subjects = [line[1:-1] for line in text.splitlines() if line.startswith("<")]
    assert subjects == sorted(subjects) and len(subjects) == len(set(subjects))
    assert any("#component/x-y/" in s for s in subjects)
    parsed = Graph().parse(data=text, format="turtle")
    assert isomorphic(parsed, jsonld.graph(record))


def test_dumps_is_json_dumps() -> None:
    """The exporters' JSON (orjson) is the standard library's text, escapes included; what
    orjson refuses goes to the standard library."""
    values = [
        {"a": 'é\u2028\x00\x1f\x7f"\\/\n\t', "b": [1, -2, True, None, {"c": "\U0001f600"}]},
        {"big": 2**70},
        {1: "int key"},
        ["\ud800 lone surrogate"],
    ]
    for value in values:
        assert _common._dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_a_failed_export_leaves_nothing(tmp_path: Path) -> None:
    record = dataclasses.replace(
        EXAMPLES["spack-hdf5-openmpi-icelake"],
        components=(),
        dependencies=(),
        roots=(),
        evidence=(),
    )
    path = tmp_path / "r.json"
    path.write_text(record.to_json())
    out = tmp_path / "out" / "x.intoto.json"
    code, output = run("export", str(path), "-f", "intoto-slsa", "-o", str(out))
    assert code == 3 and "in-toto statement needs one" in output
    assert not out.exists() and list((tmp_path / "out").glob("*")) == []
