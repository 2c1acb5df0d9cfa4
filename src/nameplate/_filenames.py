"""File names for records and exports: readable, safe, and unique within one run.

Names come from untrusted data (a Spack hash, an easyconfig's ``name``, an image reference), so
every name is cleaned to ``[A-Za-z0-9._+-]``, never starts with ``.`` or ``-``, never holds a
``/`` and is at most 200 bytes long: a file written under ``-o DIR`` always lands in ``DIR``.

- Spack: ``<name>-<version>-<hash7>`` (``hdf5-1.14.6-ijgf36w``), as ``spack find -l`` shows it;
- EasyBuild: ``<name>-<version>[-<toolchain>-<toolchain version>]<versionsuffix>``, EasyBuild's
  own full version (``det_full_ec_version``), so the file is named as its easyconfig
  (``PyTorch-2.9.1-foss-2025a-CUDA-12.8.0``);
- anything else: ``<name>[-<version>]`` of the root component, else of the subject.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .record import Record
from .summary import easybuild_version, short_hash

__all__ = ["RECORD_SUFFIX", "clean", "record_stem", "unique"]

RECORD_SUFFIX = ".nameplate.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
_MAX = 200


def clean(text: str, *, fallback: str = "record") -> str:
    """``text`` as one safe file-name part: runs of other characters become ``_``, no leading
    ``.`` or ``-`` (no hidden file, no option), at most 200 characters."""
    out = _UNSAFE.sub("_", text).lstrip(".-")[:_MAX].rstrip(".")
    return out if out.strip("_") else fallback


def record_stem(record: Record) -> str:
    """The file stem of a record (without :data:`RECORD_SUFFIX`), cleaned."""
    root = record.component(record.roots[0]) if len(record.roots) == 1 else None
    if root is not None and root.kind != "image" and record.subject.kind != "image":
        if root.ecosystem == "easybuild" or root.id.startswith("easybuild:"):
            parts = [root.name, easybuild_version(root)]
        else:
            parts = [root.name, root.version, short_hash(root) or ""]
    else:
        name = record.subject.name
        if record.subject.kind == "image":  # registry/repo:tag@digest -> repo-tag
            name = name.rsplit("@", 1)[0].rsplit("/", 1)[-1].replace(":", "-")
        else:
            name = name.rstrip("/").rsplit("/", 1)[-1]
        parts = [name, record.subject.version or ""]
    return clean("-".join(clean(p, fallback="") for p in parts if p and clean(p, fallback="")))


def unique(stems: Iterable[str], suffix: str = RECORD_SUFFIX) -> list[str]:
    """File names for ``stems``, none repeated within the list, even on a case-insensitive file
    system: a repeated name gets ``-2``, ``-3``... (in order)."""
    seen: set[str] = set()
    out: list[str] = []
    for stem in stems:
        name, n = f"{stem}{suffix}", 1
        while name.lower() in seen:
            n += 1
            name = f"{stem}-{n}{suffix}"
        seen.add(name.lower())
        out.append(name)
    return out
