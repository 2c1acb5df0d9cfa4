"""Hypothesis fuzzing of every parser of signatures from registries: envelopes, bundles,
statements, OpenPGP packets and key files. Only NameplateErrors (one line) escape."""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate import sign
from nameplate.errors import NameplateError
from nameplate.sign.openpgp import is_detached_signature
from nameplate.sign.statement import parse_statement

pytestmark = pytest.mark.property

_b64 = st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())
_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=12) | _b64
_json: Any = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "payloadType",
                    "payload",
                    "signatures",
                    "sig",
                    "keyid",
                    "mediaType",
                    "dsseEnvelope",
                    "verificationMaterial",
                    "publicKey",
                    "hint",
                    "_type",
                    "subject",
                    "digest",
                    "sha256",
                    "predicateType",
                    "predicate",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=20,
)


def _only_nameplate_errors(call: Any) -> None:
    message = ""
    try:
        call()
    except NameplateError as exc:
        message = str(exc)
    assert "\n" not in message


@given(_json)
def test_envelope_and_bundle_parsers(doc: Any) -> None:
    data = json.dumps(doc).encode()
    _only_nameplate_errors(lambda: sign.parse_envelope(data, where="env"))
    _only_nameplate_errors(lambda: sign.parse_bundle(data, where="bundle"))
    _only_nameplate_errors(lambda: parse_statement(data, where="stmt"))


@given(st.binary(max_size=256))
def test_parsers_of_raw_bytes(data: bytes) -> None:
    _only_nameplate_errors(lambda: sign.parse_envelope(data, where="env"))
    _only_nameplate_errors(lambda: sign.parse_bundle(data, where="bundle"))
    _only_nameplate_errors(lambda: parse_statement(data, where="stmt"))
    assert is_detached_signature(data) in (True, False)


@given(st.binary(max_size=512) | st.text(max_size=200).map(str.encode))
def test_key_files(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "key"
        path.write_bytes(b"-----BEGIN PUBLIC KEY-----\n" + data + b"\n-----END PUBLIC KEY-----\n")
        _only_nameplate_errors(lambda: sign.load_trusted([path]))
        path.write_bytes(data)
        _only_nameplate_errors(lambda: sign.load_signer(str(path), env={}))


@given(st.text(max_size=200), st.text(max_size=40), st.from_regex(r"[a-z2-7]{32}", fullmatch=True))
def test_spack_tags(name: str, version: str, dag_hash: str) -> None:
    import re

    from nameplate.spack_cache import is_spec_tag, spec_tag

    tag = spec_tag(name, version, dag_hash)
    assert re.fullmatch(r"[\w.-]{1,128}", tag)
    assert tag.endswith(f"-{dag_hash}.spack") and is_spec_tag(tag)
    assert is_spec_tag(name) in (True, False)
