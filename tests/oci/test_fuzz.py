"""Hypothesis fuzzing of every OCI parser of untrusted input: only NameplateErrors escape."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate import oci
from nameplate.errors import NameplateError
from nameplate.oci import manifest as m
from nameplate.oci.artifacts import record_from_bytes
from nameplate.oci.reference import parse

pytestmark = pytest.mark.property

_json: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "schemaVersion",
                    "mediaType",
                    "digest",
                    "size",
                    "manifests",
                    "layers",
                    "config",
                    "subject",
                    "annotations",
                    "artifactType",
                    "platform",
                    "data",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=20,
)
_bytes = st.binary(max_size=300) | _json.map(lambda v: json.dumps(v).encode())


@given(st.text(max_size=120))
def test_reference_parse(text: str) -> None:
    with contextlib.suppress(NameplateError):
        parse(text, store="/nonexistent")


@given(_bytes)
def test_parse_manifest(data: bytes) -> None:
    with contextlib.suppress(NameplateError):
        doc = m.parse_manifest(data)
        if "manifests" in doc:
            m.index_descriptors(doc)
        m.artifact_type_of(doc)
        m.subject_of(doc)


@given(_json)
def test_descriptor(value: Any) -> None:
    with contextlib.suppress(NameplateError):
        m.Descriptor.from_dict(value)


@given(_bytes)
def test_layout_index(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "index.json").write_bytes(data)
        for call in (lambda: oci.discover(f"oci:{tmp}:x"), lambda: oci.list_tags(f"oci:{tmp}")):
            with contextlib.suppress(NameplateError):
                call()


@given(_bytes)
def test_pulled_record(data: bytes) -> None:
    with contextlib.suppress(NameplateError):
        record_from_bytes(data, where="fuzz")
