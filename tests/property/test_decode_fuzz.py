"""The fast decoder (``Record.from_dict``) against the checked conversion (``_codec.from_dict``)
on mutated real records (examples/records): the same record, or the same error.

Each example is a real record's JSON; one or more values somewhere in it (a field, an array
item, a mapping value) are replaced by another JSON value, deleted, or joined by a key of
their own, and both conversions must agree on the result.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate import _codec
from nameplate.record import Record

pytestmark = pytest.mark.property

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "records"
DOCS = [json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))]

#: Text as JSON (and a ``\\ud800`` escape) can hold it: lone surrogates included.
_chars = st.characters() | st.characters(
    min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=()
)
texts = st.text(_chars, max_size=6) | st.sampled_from(
    ["build", "link", "run", "library", "installed", "x86_64", "\ud800", "a\udfffb", "é"]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.integers()
    | st.sampled_from([2**64, 10**400, -(2**63)])
    | st.floats(allow_nan=False)
    | texts
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)


def _places(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``doc`` (dict keys and list indexes), ``()`` included."""
    out = [path]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.extend(_places(value, (*path, key)))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out.extend(_places(value, (*path, i)))
    return out


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(draw(st.sampled_from(DOCS)))
    for _ in range(draw(st.integers(1, 3))):
        places = [p for p in _places(doc) if p]
        if not places:
            break
        path = draw(st.sampled_from(places))
        parent = _at(doc, path[:-1])
        last = path[-1]
        how = draw(st.sampled_from(["replace", "delete", "add", "retype", "tuple"]))
        if how == "replace":
            parent[last] = draw(values)
        elif how == "delete":
            del parent[last]
        elif how == "add" and isinstance(parent, dict):
            parent[draw(texts)] = draw(values)
        elif how == "add":
            parent.append(draw(values))
        elif how == "retype":  # a value of a neighbouring JSON type
            old = parent[last]
            parent[last] = draw(
                st.sampled_from(
                    [None, True, 1, 1.0, str(old), [old], {"x": old}, 0, False, "", [], {}]
                )
            )
        elif isinstance(parent[last], list):  # "tuple": as a Python caller may pass it
            parent[last] = tuple(parent[last])
    return doc


def _outcome(convert: Any, doc: dict[str, Any]) -> tuple[str, str]:
    try:
        record = convert(copy.deepcopy(doc))
    except Exception as exc:
        return type(exc).__name__, str(exc)
    assert type(record) is Record
    return "ok", repr(record) + record.to_json()


@given(mutated())
def test_the_fast_decoder_agrees_with_the_checked_conversion(doc: dict[str, Any]) -> None:
    checked = _outcome(lambda d: _codec.from_dict(Record, d), doc)
    fast = _outcome(Record.from_dict, doc)
    assert fast == checked


@given(mutated())
def test_the_streamed_loader_agrees_with_the_whole_read(doc: dict[str, Any]) -> None:
    """Where the streamed loader takes a mutated record, it is the one read whole."""
    import tempfile

    from nameplate import _streamload

    text = json.dumps(doc)  # lone surrogates as \\ud800 escapes
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "record.json"
        path.write_text(text)
        try:
            streamed = _streamload.load(path, limit=1 << 30)
        except _streamload.Fallback:
            return
    whole = Record.loads(text)
    assert repr(streamed) + streamed.to_json() == repr(whole) + whole.to_json()
