"""Locate the language-neutral data files (``schemas/``, ``vocab/``).

In a built wheel they are package data under ``nameplate/_data/``; in a checkout or an editable
install (where hatch's ``force-include`` does not reach) they are at the repository root.
"""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from .errors import NameplateError

_CHECKOUT = Path(__file__).resolve().parents[2]

Kind = Literal["schemas", "vocab"]


def data_path(kind: Kind, name: str) -> Path:
    """The path of a data file; raises ``NameplateError`` if this installation lacks it."""
    packaged = Path(str(files("nameplate"))) / "_data" / kind / name
    if packaged.is_file():
        return packaged
    in_checkout = _CHECKOUT / kind / name
    if in_checkout.is_file():
        return in_checkout
    raise NameplateError(f"{kind}/{name} is missing from this installation")


def read_data(kind: Kind, name: str) -> bytes:
    """The bytes of a data file."""
    return data_path(kind, name).read_bytes()


@functools.cache
def load_json(kind: Kind, name: str) -> Any:
    """A data file parsed as JSON (cached; treat the result as read-only)."""
    return json.loads(read_data(kind, name))
