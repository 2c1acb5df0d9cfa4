"""The closures of many entry points gathered over one :class:`~.resolver.Resolver`: every
object they load (each once, in load order) and every library they need that is not in the
tree, with the one rule every source uses to tell the host's libraries from missing ones.

A library not found in the tree is the host's only where nothing said the tree would hold it.
When every ``DT_RPATH``/``DT_RUNPATH`` directory searched for it lies inside the tree
(:attr:`.Link.expected`), the tree was to provide it and does not: an ``elf.closure`` unknown,
never a silent pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ..errors import SourceError
from .resolver import Resolver
from .rollup import host_only, host_provided

__all__ = ["Gathered", "Missing", "assumed_from_host", "gather"]


@dataclass(frozen=True, slots=True)
class Missing:
    """A library needed and not found in the tree: by whom, and where the tree was to hold it
    (the first ``DT_RPATH``/``DT_RUNPATH`` directory searched, when all of them lie inside the
    tree; None when none was searched or one lies outside it)."""

    name: str
    needed_by: str
    expected: str | None = None

    def expected_reason(self, where: str) -> str:
        """Why a library the tree was to hold is an unknown (``where``: the tree's name)."""
        return (
            f"needs {self.name}: not found in {where}, where its RPATH/RUNPATH points "
            f"({self.expected}; searched as ld.so does); not assumed from the host"
        )


@dataclass(slots=True)
class Gathered:
    """What the entry points load: ``loaded`` tree paths (each once, entries first, in load
    order); ``missing`` (each (name, needed by) once, in the order found); ``problems``: the
    entries not read, in order, as (entry, kind, reason): ``absent`` (not a file of the tree),
    ``failed`` (the tree could not read it), ``unreadable`` (not a readable ELF object)."""

    loaded: dict[str, None] = field(default_factory=dict)
    missing: dict[tuple[str, str], Missing] = field(default_factory=dict)
    problems: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def outside(self) -> list[tuple[str, str]]:
        """(name, needed by) of every library not found in the tree (what a roll-up takes)."""
        return list(self.missing)

    def unresolved(self, assumed: Callable[[Missing], bool]) -> list[Missing]:
        """The missing libraries ``assumed`` does not take from the host."""
        return [m for m in self.missing.values() if not assumed(m)]


def assumed_from_host(missing: Missing, *, runtimes_only: bool = True) -> bool:
    """Whether a library not found in the tree may be taken as the host's: the C library's and
    the GPU driver's always; any other only when its search stayed outside the tree, and (with
    ``runtimes_only``, for an install tree) only the runtimes a compatibility rule judges on the
    host (:func:`.rollup.host_provided`: libstdc++, OpenMP, Fortran, MPI, CUDA)."""
    if host_only(missing.name):
        return True
    if missing.expected is not None:
        return False
    return host_provided(missing.name) or not runtimes_only


def gather(
    resolver: Resolver,
    entries: Iterable[str],
    *,
    library_path: Sequence[str] | None = None,
    check_present: bool = False,
) -> Gathered:
    """Resolve the closure of each entry point (tree paths, each once) into one
    :class:`Gathered`. ``library_path``: the runs' ``LD_LIBRARY_PATH`` (a module environment);
    ``check_present``: entries that are not files of the tree are ``absent`` problems."""
    out = Gathered()
    tree = resolver.tree
    for entry in dict.fromkeys(entries):
        try:
            if check_present and not tree.is_file(PurePosixPath(entry)):
                out.problems.append((entry, "absent", "not in the tree"))
                continue
            closure = resolver.closure(entry, library_path=library_path)
        except SourceError as exc:
            out.problems.append((entry, "failed", str(exc)))
            continue
        if closure is None:
            error = resolver.cache.errors.get(entry)
            if error:
                out.problems.append((entry, "unreadable", error))
            continue
        out.loaded[closure.entry_tree_path] = None
        for link in closure.links:
            if link.tree_path is not None:
                out.loaded[resolver.canon(link.tree_path)] = None
            elif (link.name, link.needed_by) not in out.missing:
                out.missing[(link.name, link.needed_by)] = Missing(
                    link.name, link.needed_by, link.expected
                )
    return out
