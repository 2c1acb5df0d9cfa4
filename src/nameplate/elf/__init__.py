"""ELF files read as data, never run: headers, dynamic section, symbol versions, notes, CUDA
fatbins (:mod:`.parse`), and their facts rolled up into a record's HPC fields (:mod:`.rollup`).

Shared by every source that finds binaries (Spack prefixes, EasyBuild installs, image layers,
stand-alone files) and by :mod:`nameplate.compat.host`, which reads the host's own libraries.
"""

from __future__ import annotations

from .parse import ELF_MAGIC, ElfFacts, FatbinEntry, MalformedElf, is_elf, parse_elf

__all__ = ["ELF_MAGIC", "ElfFacts", "FatbinEntry", "MalformedElf", "is_elf", "parse_elf"]
