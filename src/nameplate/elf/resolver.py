"""The runtime closure of an ELF entry point, resolved as glibc's ``ld.so`` would, without
running anything.

:class:`Resolver` works over any read-only :class:`~nameplate.tree.FileTree` (an install tree,
a Spack store, merged image layers, a build-cache tarball). For each object it resolves
``DT_NEEDED`` in the loader's order (glibc ``elf/dl-load.c``, ``_dl_map_object``; ld.so(8)):

1. a name with a slash is a path;
2. an object already loaded whose name or ``DT_SONAME`` is the name is reused (so the first
   object loaded, breadth first, wins, as ``ldd`` shows);
3. when the loading object has no ``DT_RUNPATH``: the ``DT_RPATH`` of the loading object, then
   of the object that loaded it, up to the executable (an object with ``DT_RUNPATH`` has no
   ``DT_RPATH`` for the loader: ``elf/get-dynamic-info.h``);
4. ``LD_LIBRARY_PATH`` (an image's ``Env``);
5. the loading object's own ``DT_RUNPATH``;
6. the tree's ``/etc/ld.so.cache`` (:mod:`.ldcache`), unless the loader has ``DF_1_NODEFLIB``;
7. the default directories (glibc's system search path, the multiarch ones on Debian), unless
   ``DF_1_NODEFLIB``.

``$ORIGIN``, ``$LIB`` and ``$PLATFORM`` (and their ``${...}`` forms) are expanded; a candidate
must be a regular ELF file of the entry's class and machine, or the search goes on (as
``ld.so`` skips a wrong-class file). In each directory the plain file is taken before a
``glibc-hwcaps/<level>/`` variant, since every CPU of the architecture loads it.

Paths are *virtual*: absolute paths as the loader sees them. A tree is either a whole root file
system (``rooted``: an image; every absolute path is in the tree) or a part of one, placed by
``mounts`` (a recorded install prefix → its folder in the tree). A library searched for outside
the tree is the host's: it is reported as such, never guessed. Links that dangle or lead out of
the tree are skipped, as the loader would skip them, and named in the result.
"""

from __future__ import annotations

import posixpath
import re
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..errors import SourceError
from ..tree import FileTree
from .ldcache import LdCache, parse_ldcache
from .objects import ELF_DIRS, ObjectCache
from .parse import ElfFacts

__all__ = ["ELF_DIRS", "Closure", "Link", "ObjectCache", "Resolver", "default_dirs"]

_DST = re.compile(r"\$(?:\{(ORIGIN|LIB|PLATFORM)\}|(ORIGIN|LIB|PLATFORM)(?![A-Za-z0-9_]))")
_TRIPLETS = {
    ("x86_64", 64): "x86_64-linux-gnu",
    ("x86", 32): "i386-linux-gnu",
    ("aarch64", 64): "aarch64-linux-gnu",
    ("ppc64", 64): "powerpc64le-linux-gnu",
    ("s390", 64): "s390x-linux-gnu",
    ("riscv", 64): "riscv64-linux-gnu",
    ("arm", 32): "arm-linux-gnueabihf",
    ("loongarch", 64): "loongarch64-linux-gnu",
}
_PLATFORMS = {
    "x86_64": ("x86_64", "haswell", "xeon_phi"),
    "x86": ("i686", "i586", "i486", "i386"),
    "aarch64": ("aarch64",),
    "ppc64": ("ppc64le", "power10", "power9", "power8"),
    "s390": ("s390x", "z15", "z14", "z13"),
}
_HWCAPS = {
    "x86_64": ("x86-64-v2", "x86-64-v3", "x86-64-v4"),
    "aarch64": (),
    "ppc64": ("power9", "power10"),
    "s390": ("z13", "z14", "z15", "z16"),
}


def default_dirs(machine: str, elf_class: int, *, multiarch: bool) -> tuple[str, ...]:
    """glibc's system search path: ``/lib64:/usr/lib64`` for 64-bit objects (``/lib:/usr/lib``
    for 32-bit ones), and on a multiarch (Debian) system the triplet folders first, then
    ``/lib:/usr/lib`` (what ``ld.so --help`` prints there)."""
    triplet = _TRIPLETS.get((machine, elf_class))
    if multiarch and triplet:
        return (f"/lib/{triplet}", f"/usr/lib/{triplet}", "/lib", "/usr/lib")
    if elf_class == 64 and machine not in ("riscv",):
        return ("/lib64", "/usr/lib64")
    return ("/lib", "/usr/lib")


@dataclass(frozen=True, kw_only=True, slots=True)
class Link:
    """One needed library: its name, who needs it, and where it was found.

    ``path`` is the virtual path found in the tree (None when it is not in the tree); ``host``
    is True when the search reached directories outside the tree (the host provides it, or it
    is missing); ``expected`` (for a library not found) is the first ``DT_RPATH``/``DT_RUNPATH``
    directory searched for it when every such directory lies inside the tree: the objects said
    the tree would hold it (None when none was searched, or one lies outside the tree, where it
    may be: a relative one is relative to the working directory); ``via`` says which search
    step found it; ``notes`` name what was skipped."""

    name: str
    needed_by: str
    path: str | None = None
    tree_path: str | None = None
    via: str | None = None
    host: bool = False
    expected: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Closure:
    """What one entry point loads, in load order (breadth first, as ``ldd`` prints)."""

    entry: str
    entry_tree_path: str
    links: tuple[Link, ...] = ()

    @property
    def found(self) -> tuple[Link, ...]:
        """The libraries found in the tree."""
        return tuple(link for link in self.links if link.tree_path is not None)

    @property
    def outside(self) -> tuple[Link, ...]:
        """The libraries not found in the tree (the host's, or missing)."""
        return tuple(link for link in self.links if link.tree_path is None)


@dataclass(slots=True)
class _Obj:
    vpath: str
    tree_path: str
    facts: ElfFacts
    loader: _Obj | None
    names: set[str]


def _substitute(text: str, key: str, value: str) -> str:
    """``text`` with every ``$KEY``/``${KEY}`` replaced by ``value``."""

    def repl(m: re.Match[str]) -> str:
        return value if (m.group(1) or m.group(2)) == key else m[0]

    return _DST.sub(repl, text)


def _norm(path: str) -> str:
    out = posixpath.normpath(path)
    return "/" + out.lstrip("/") if out.startswith("/") else out


class Resolver:
    """Resolves runtime closures over one tree (see the module docstring).

    ``mounts``: (virtual absolute path, tree path) pairs, the longest match wins. ``rooted``:
    the tree is a whole root file system. ``ld_cache`` and ``dirs`` default to what a rooted tree
    holds; ``library_path`` is ``LD_LIBRARY_PATH`` (virtual paths)."""

    def __init__(
        self,
        tree: FileTree,
        *,
        mounts: Iterable[tuple[str, str]] = (),
        rooted: bool = False,
        ld_cache: LdCache | None = None,
        dirs: Sequence[str] | None = None,
        library_path: Sequence[str] = (),
        cache: ObjectCache | None = None,
    ) -> None:
        self.tree = tree
        self.rooted = rooted
        self.cache = cache or ObjectCache(tree)
        pairs = [(_norm(v).rstrip("/") or "/", t.strip("/") or ".") for v, t in mounts]
        self._mounts = sorted(pairs, key=lambda p: -len(p[0]))
        self._back = sorted(pairs, key=lambda p: -len(p[1]) if p[1] != "." else 0)
        self.library_path = tuple(library_path)
        self.ld_cache = ld_cache
        self.unknowns: list[tuple[str, str]] = []
        self._multiarch = False
        if rooted:
            self._multiarch = any(
                tree.is_dir(PurePosixPath(f"lib/{t}")) or tree.is_dir(PurePosixPath(f"usr/lib/{t}"))
                for t in set(_TRIPLETS.values())
            )
            if ld_cache is None:
                self.ld_cache = self._read_cache()
        self._dirs = tuple(dirs) if dirs is not None else None
        self._real: Callable[[str], str] | None = getattr(tree, "realpath", None)
        self._exists: dict[str, bool] = {}
        self._canon: dict[str, str] = {}
        self._expanded: dict[tuple[str, str, str, int], list[str]] = {}
        self._searched: dict[tuple[object, ...], tuple[int, Link]] = {}

    # -- paths ---------------------------------------------------------------------------------

    def _read_cache(self) -> LdCache | None:
        path = PurePosixPath("etc/ld.so.cache")
        if not self.tree.is_file(path):
            return None
        try:
            return parse_ldcache(
                self.tree.read_bytes(path, limit=64 * 1024 * 1024),
                where=self.tree.describe(path),
            )
        except SourceError as exc:
            self.unknowns.append((self.tree.describe(path), str(exc)))
            return None

    def to_tree(self, vpath: str) -> str | None:
        """The tree path of virtual path ``vpath``, or None when it is outside the tree."""
        v = _norm(vpath)
        for virtual, tree_path in self._mounts:
            if v == virtual or v.startswith(virtual.rstrip("/") + "/"):
                rest = v[len(virtual) :].strip("/")
                if tree_path == ".":
                    return rest or "."
                return f"{tree_path}/{rest}" if rest else tree_path
        if self.rooted:
            return v.strip("/") or "."
        return None

    def to_virtual(self, tree_path: str) -> str:
        """The virtual path of ``tree_path`` (as the loader would see it)."""
        t = tree_path.strip("/")
        for virtual, mounted in self._back:
            if mounted == ".":
                return _norm(f"{virtual}/{t}")
            if t == mounted or t.startswith(mounted + "/"):
                return _norm(virtual + "/" + t[len(mounted) :])
        return "/" + t

    def dirs(self, facts: ElfFacts) -> tuple[str, ...]:
        """The default directories for an object of this class and machine."""
        if self._dirs is not None:
            return self._dirs
        return default_dirs(facts.machine, facts.elf_class, multiarch=self._multiarch)

    def _lib_values(self, facts: ElfFacts) -> tuple[str, ...]:
        triplet = _TRIPLETS.get((facts.machine, facts.elf_class))
        if self.rooted and self._multiarch and triplet:
            return (f"lib/{triplet}",)
        if self.rooted:
            return ("lib64" if facts.elf_class == 64 else "lib",)
        return tuple(dict.fromkeys(("lib64", f"lib/{triplet}" if triplet else "lib", "lib")))

    def _expand(self, entry: str, obj: _Obj) -> list[str]:
        """One search-path element with ``$ORIGIN``/``$LIB``/``$PLATFORM`` expanded (several
        candidates where the value depends on the host); memoised."""
        origin = posixpath.dirname(obj.vpath) if "ORIGIN" in entry else ""
        key = (entry, origin, obj.facts.machine, obj.facts.elf_class)
        hit = self._expanded.get(key)
        if hit is None:
            hit = self._expanded[key] = self._expand_uncached(entry, obj)
        return hit

    def _expand_uncached(self, entry: str, obj: _Obj) -> list[str]:
        out = [entry]
        if "$" not in entry:
            return [_norm(entry)] if entry.startswith("/") else [entry]
        origin = posixpath.dirname(obj.vpath)
        values = {
            "ORIGIN": (origin,),
            "LIB": self._lib_values(obj.facts),
            "PLATFORM": _PLATFORMS.get(obj.facts.machine, (obj.facts.machine,)),
        }
        for key, choices in values.items():
            nxt = []
            for text in out:
                if f"${key}" not in text and f"${{{key}}}" not in text:
                    nxt.append(text)
                    continue
                for value in choices:
                    nxt.append(_substitute(text, key, value))
            out = nxt
        return [_norm(x) for x in out if "$" not in x]

    # -- search --------------------------------------------------------------------------------

    def _is_file(self, tree_path: str) -> bool:
        hit = self._exists.get(tree_path)
        if hit is None:
            try:
                hit = self.tree.is_file(PurePosixPath(tree_path))
            except SourceError:
                hit = False
            self._exists[tree_path] = hit
        return hit

    def canon(self, tree_path: str) -> str:
        """``tree_path`` with links resolved (where the tree can tell); memoised."""
        if self._real is None:
            return tree_path
        hit = self._canon.get(tree_path)
        if hit is None:
            try:
                hit = self._real(tree_path)
            except SourceError:
                hit = tree_path
            self._canon[tree_path] = hit
        return hit

    def _try(
        self, directory: str, name: str, want: ElfFacts, notes: list[str]
    ) -> tuple[tuple[str, str] | None, bool]:
        """((virtual path, tree path) of ``name`` in ``directory``, or None; whether the
        directory is outside the tree: the host's)."""
        if not directory.startswith("/"):
            return None, False  # a relative element is relative to the working directory
        variants = [directory]
        variants += [f"{directory}/glibc-hwcaps/{lvl}" for lvl in _HWCAPS.get(want.machine, ())]
        outside = False
        for d in variants:
            vpath = _norm(f"{d}/{name}")
            tp = self.to_tree(vpath)
            if tp is None:
                outside = True
                continue
            if not self._is_file(tp):
                continue
            facts = self.cache.get(self.canon(tp))
            if facts is None:
                notes.append(f"{vpath}: not a readable ELF object, skipped")
                continue
            if facts.machine != want.machine or facts.elf_class != want.elf_class:
                notes.append(
                    f"{vpath}: {facts.elf_class}-bit {facts.machine}, not "
                    f"{want.elf_class}-bit {want.machine}: skipped"
                )
                continue
            if d != directory:
                notes.append(f"{vpath}: only a glibc-hwcaps variant ({d.rsplit('/', 1)[1]})")
            return (vpath, tp), False
        return None, outside

    def _search(self, name: str, loader: _Obj, main: _Obj) -> Link:
        """Where the loader finds ``name`` for ``loader`` (memoised on the directories searched:
        the same search gives the same answer)."""
        steps = self._steps(loader)
        want = main.facts
        key = (
            name,
            tuple((via.split(" ", 1)[0], tuple(dirs)) for via, dirs in steps),
            loader.facts.nodeflib,
            want.machine,
            want.elf_class,
        )
        cached = self._searched.get(key)
        if cached is None:
            cached = self._searched[key] = self._search_uncached(name, steps, loader, want)
        step, link = cached
        return Link(
            name=name,
            needed_by=loader.vpath,
            path=link.path,
            tree_path=link.tree_path,
            via=steps[step][0] if step >= 0 else link.via,
            host=link.host,
            expected=link.expected,
            notes=link.notes,
        )

    def _steps(self, loader: _Obj) -> list[tuple[str, list[str]]]:
        steps: list[tuple[str, list[str]]] = []
        if not loader.facts.runpath:
            chain: _Obj | None = loader
            while chain is not None:
                if chain.facts.rpath and not chain.facts.runpath:
                    dirs = [d for e in chain.facts.rpath for d in self._expand(e, chain)]
                    steps.append((f"RPATH of {chain.vpath}", dirs))
                chain = chain.loader
        if self.library_path:
            steps.append(("LD_LIBRARY_PATH", [_norm(p) for p in self.library_path if p]))
        if loader.facts.runpath:
            dirs = [d for e in loader.facts.runpath for d in self._expand(e, loader)]
            steps.append((f"RUNPATH of {loader.vpath}", dirs))
        return steps

    def _search_uncached(
        self, name: str, steps: list[tuple[str, list[str]]], loader: _Obj, want: ElfFacts
    ) -> tuple[int, Link]:
        """(index of the step that found it, or -1; the link)."""
        notes: list[str] = []
        host = False
        inside: list[str] = []  # the RPATH/RUNPATH directories searched, inside the tree
        named_outside = False  # an RPATH/RUNPATH directory outside the tree: it may be there
        for index, (via, dirs) in enumerate(steps):
            for d in dirs:
                hit, out = self._try(d, name, want, notes)
                host = host or out
                if via.startswith(("RPATH ", "RUNPATH ")):
                    # a relative element is relative to the working directory: not the tree
                    if not d.startswith("/") or self.to_tree(d) is None:
                        named_outside = True
                    else:
                        inside.append(d)
                if hit is not None:
                    return index, Link(
                        name=name,
                        needed_by=loader.vpath,
                        path=hit[0],
                        tree_path=hit[1],
                        via=via,
                        notes=tuple(notes),
                    )
        system = self.dirs(want)
        if not loader.facts.nodeflib and self.ld_cache is not None:
            cached = self.ld_cache.lookup(name, machine=want.machine, elf_class=want.elf_class)
            if cached is not None:
                directory, base = posixpath.split(_norm(cached))
                hit, out = self._try(directory, base, want, notes)
                host = host or out
                if hit is not None:
                    return -1, Link(
                        name=name,
                        needed_by=loader.vpath,
                        path=hit[0],
                        tree_path=hit[1],
                        via="ld.so.cache",
                        notes=tuple(notes),
                    )
        if not loader.facts.nodeflib:
            for d in system:
                hit, out = self._try(d, name, want, notes)
                host = host or out
                if hit is not None:
                    return -1, Link(
                        name=name,
                        needed_by=loader.vpath,
                        path=hit[0],
                        tree_path=hit[1],
                        via="default directories",
                        notes=tuple(notes),
                    )
        expected = inside[0] if inside and not named_outside else None
        return -1, Link(
            name=name, needed_by=loader.vpath, host=host, expected=expected, notes=tuple(notes)
        )

    def closure(
        self,
        entry_tree_path: str,
        *,
        max_objects: int = 4096,
        library_path: Sequence[str] | None = None,
    ) -> Closure | None:
        """The closure of the ELF object at ``entry_tree_path``; None if it is not ELF.
        ``library_path``: this run's ``LD_LIBRARY_PATH`` (a module environment), if not the
        resolver's."""
        if library_path is not None:
            saved, self.library_path = self.library_path, tuple(library_path)
            try:
                return self.closure(entry_tree_path, max_objects=max_objects)
            finally:
                self.library_path = saved
        canon = self.canon(entry_tree_path)
        facts = self.cache.get(canon)
        if facts is None:
            return None
        main = _Obj(
            vpath=self.to_virtual(canon),
            tree_path=canon,
            facts=facts,
            loader=None,
            names={n for n in (facts.soname,) if n},
        )
        loaded: list[_Obj] = [main]
        by_name: dict[str, None] = dict.fromkeys(main.names)  # every name loaded, or searched
        by_file: dict[str, _Obj] = {canon: main}
        links: list[Link] = []
        queue = deque([main])
        while queue and len(loaded) < max_objects:
            obj = queue.popleft()
            for name in obj.facts.needed:
                if name in by_name:
                    continue
                if "/" in name:
                    tp = self.to_tree(name) if name.startswith("/") else None
                    link = Link(
                        name=name,
                        needed_by=obj.vpath,
                        path=_norm(name) if tp and self._is_file(tp) else None,
                        tree_path=tp if tp and self._is_file(tp) else None,
                        via="path",
                        host=tp is None,
                    )
                else:
                    link = self._search(name, obj, main)
                links.append(link)
                by_name[name] = None
                if link.tree_path is None or link.path is None:
                    continue
                real = self.canon(link.tree_path)
                same = by_file.get(real)
                if same is not None:
                    same.names.add(name)
                    continue
                lib_facts = self.cache.get(real)
                if lib_facts is None:
                    continue
                new = _Obj(
                    vpath=link.path,
                    tree_path=real,
                    facts=lib_facts,
                    loader=obj,
                    names={name, *((lib_facts.soname,) if lib_facts.soname else ())},
                )
                loaded.append(new)
                by_file[real] = new
                by_name.update(dict.fromkeys(new.names))
                queue.append(new)
        if queue:
            self.unknowns.append(
                (main.vpath, f"more than {max_objects} objects in the closure; the rest not read")
            )
        return Closure(entry=main.vpath, entry_tree_path=canon, links=tuple(links))
