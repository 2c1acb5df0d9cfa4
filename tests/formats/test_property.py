"""Hypothesis: every generated record exports to every format, validly and deterministically."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib import Graph
from rdflib.compare import isomorphic

from nameplate import formats, schema
from nameplate.errors import ExportError
from nameplate.formats import jsonld
from nameplate.record import Record
from tests.formats import _support as S

_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=12)
_text = st.text(max_size=20)
_hex64 = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
_hash = st.one_of(
    st.builds(lambda v: {"algorithm": "sha256", "value": v}, _hex64),
    st.builds(lambda v: {"algorithm": "spack-dag", "value": v}, _name),
)
_target = st.fixed_dictionaries(
    {"name": st.sampled_from(["zen3", "icelake", "neoverse_v2", "x86_64_v3", "future_cpu"])},
    optional={"features": st.lists(_name, max_size=3, unique=True), "flags": _text},
)


@st.composite
def records(draw: st.DrawFn) -> Record:
    ids = draw(st.lists(_name, min_size=1, max_size=8, unique=True))
    components = []
    for cid in ids:
        comp: dict[str, Any] = {
            "id": cid,
            "name": draw(_name),
            "version": draw(st.sampled_from(["1.0", "2.3.4", "", "develop"])),
            "kind": draw(st.sampled_from(["package", "compiler", "os-package", "application"])),
        }
        comp.update(
            draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "purl": st.builds(lambda n: f"pkg:generic/{n}@1", _name),
                        "hashes": st.lists(_hash, max_size=2),
                        "licenses": st.lists(
                            st.sampled_from(
                                ["MIT", "GPL-2.0-only", "custom thing", "MIT OR Apache-2.0"]
                            ),
                            max_size=2,
                        ),
                        "options": st.dictionaries(_name, st.booleans() | _text, max_size=2),
                        "target": _target,
                        "homepage": st.sampled_from(["https://example.org", "None"]),
                        "sources": st.lists(
                            st.fixed_dictionaries(
                                {"url": st.sampled_from(["https://example.org/a.tgz", "None"])},
                                optional={"checksums": st.lists(_hash, max_size=1)},
                            ),
                            max_size=2,
                        ),
                        "patches": st.lists(
                            st.fixed_dictionaries(
                                {},
                                optional={
                                    "url": st.just("https://example.org/p.patch"),
                                    "name": _text,
                                },
                            ),
                            max_size=2,
                        ),
                        "properties": st.dictionaries(_name, _text, max_size=2),
                    },
                )
            )
        )
        components.append(comp)
    edges = []
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            if draw(st.booleans()):
                types = draw(
                    st.lists(
                        st.sampled_from(["build", "link", "run", "test"]),
                        min_size=1,
                        max_size=3,
                        unique=True,
                    )
                )
                edges.append(
                    {
                        "dependent": a,
                        "dependency": b,
                        "types": types,
                        "virtuals": draw(st.lists(_name, max_size=2)),
                    }
                )
    hpc: dict[str, Any] = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "target": _target,
                "compilers": st.lists(
                    st.fixed_dictionaries(
                        {"name": _name, "version": _name},
                        optional={"component": st.sampled_from(ids)},
                    ),
                    max_size=2,
                ),
                "mpi": st.fixed_dictionaries(
                    {"implementation": _name},
                    optional={"abi": st.sampled_from(["mpich", "openmpi", "mpi-abi", "unknown"])},
                ),
                "gpu": st.lists(
                    st.fixed_dictionaries(
                        {"vendor": st.just("nvidia"), "runtime": st.just("cuda")},
                        optional={
                            "architectures": st.lists(
                                st.sampled_from(["sm_80", "sm_90a", "gfx90a"]), max_size=2
                            )
                        },
                    ),
                    max_size=1,
                ),
            },
        )
    )
    data = {
        "schema_version": "1.0.0",
        "serial": "urn:uuid:" + str(draw(st.uuids())),
        "subject": {
            "kind": draw(st.sampled_from(["spack-prefix", "image", "easybuild-prefix"])),
            "name": draw(_name),
        },
        "roots": [ids[0]],
        "components": components,
        "dependencies": edges,
        "hpc": hpc,
        "provenance": {
            "generator": {"name": "nameplate", "version": "0.1.0"},
            "extracted_at": "2026-01-01T00:00:00Z",
            "build_host": draw(st.dictionaries(_name, _text, max_size=2)),
        },
    }
    schema.validate(data)
    return Record.from_dict(data)


@pytest.mark.property
# Not a parser of untrusted input (it checks our encoders, about 0.18 s an example with every
# format validated): 200 examples in CI keep the property pass in budget (issue 12).
@settings(max_examples=min(200, settings().max_examples))
@given(records(), st.randoms(use_true_random=False))
def test_every_format_is_valid_and_order_independent(record: Record, rnd: Any) -> None:
    shuffled_components = list(record.components)
    rnd.shuffle(shuffled_components)
    shuffled = dataclasses.replace(record, components=tuple(shuffled_components))
    for fmt in formats.FORMATS:
        try:
            data = formats.encode(record, fmt)
        except ExportError:
            assert fmt.startswith("intoto")
            continue
        assert formats.encode(shuffled, fmt) == data, fmt
        if fmt == "cyclonedx-json":
            assert S.errors(S.cdx_validator("1.6"), json.loads(data)) == []
        elif fmt == "spdx-2.3":
            assert S.errors(S.vendor_validator("spdx-2.3.schema.json"), json.loads(data)) == []
        elif fmt == "spdx-3.0.1":
            assert S.errors(S.vendor_validator("spdx-3.0.1.schema.json"), json.loads(data)) == []
        elif fmt == "cyclonedx-xml":
            assert S.check_cdx_xml(data, "1.6") == []
        elif fmt == "turtle":
            back = Graph().parse(data=data.decode(), format="turtle")
            assert isomorphic(back, jsonld.graph(record))
            assert len(jsonld.load_graph([record], store="oxigraph")) == len(back)
        elif fmt == "jsonld":
            assert isomorphic(
                Graph().parse(data=data.decode(), format="json-ld"), jsonld.graph(record)
            )


@pytest.mark.property
@given(records(), st.booleans())
def test_a_record_read_a_component_at_a_time_is_the_record(record: Record, compact: bool) -> None:
    """The streaming reader gives the record ``Record.from_dict`` gives, and every format
    written as it is made is the encoded bytes."""
    import io
    import tempfile
    from pathlib import Path

    from nameplate import _streamload

    data = record.to_dict()
    text = json.dumps(data, separators=(",", ":")) if compact else record.to_json()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.json"
        path.write_text(text)
        assert _streamload.load(path, limit=1 << 30) == record
    for fmt in ("cyclonedx-json", "spdx-3.0.1", "turtle"):
        out = io.BytesIO()
        try:
            formats.write(record, fmt, out)
        except ExportError:
            continue
        assert out.getvalue() == formats.encode(record, fmt)
