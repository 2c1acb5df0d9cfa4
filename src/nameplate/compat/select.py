"""Which tag of a repository fits a host best, and why the others lost.

:func:`crawl` lists a repository's tags and the platform manifests of each (an image index is
opened, one manifest per platform), and pulls the newest record attached to each manifest
through :mod:`nameplate.oci`. :func:`rank` is pure: it checks every candidate against the host
and orders those that run by

1. verdict (``pass`` before ``unknown``);
2. the most specific CPU target (the deepest in archspec's tree);
3. an MPI of the host's ABI family;
4. a GPU build on a GPU host, then the newest CUDA toolkit the driver runs natively;
5. fewer warnings;
6. the newest record (``built_at``/``extracted_at``), then the reference for a stable order.
"""

from __future__ import annotations

import fnmatch
import functools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import CompatError, NameplateError, NotInStore, RegistryError
from ..normalize import version_key
from ..record import Record
from .profile import Host
from .report import Report, Verdict, check
from .rules import CheckOptions

if TYPE_CHECKING:
    from ..sign import TrustedKeys

__all__ = ["Candidate", "Found", "Selection", "crawl", "or_no_such_file", "rank", "select"]

_T = TypeVar("_T")


@dataclass(frozen=True, kw_only=True, slots=True)
class Found:
    """A manifest found in a repository, and its record (None when none is attached)."""

    ref: str
    tag: str
    digest: str
    platform: str | None = None
    record: Record | None = None
    problem: str | None = None
    #: with trusted keys: who signed the record; None and ``unsigned`` when no trusted key did
    signed_by: str | None = None
    unsigned: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Candidate:
    """A ranked manifest: its check report, its sort key and why it won or lost."""

    found: Found
    report: Report | None
    key: tuple[Any, ...]
    why: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Selection:
    """The ranked candidates; ``best`` is the first that runs, or None."""

    candidates: tuple[Candidate, ...]

    @property
    def best(self) -> Candidate | None:
        """The winner, if any candidate runs (or may run: unknown) on the host."""
        first = self.candidates[0] if self.candidates else None
        if first is None or first.report is None or first.report.verdict is Verdict.FAIL:
            return None
        return first

    def to_dict(self) -> dict[str, Any]:
        """JSON data for ``nameplate select -f json``."""
        best = self.best
        return {
            "best": best.found.ref if best else None,
            "best_tag": best.found.tag if best else None,
            "candidates": [
                {
                    "ref": c.found.ref,
                    "tag": c.found.tag,
                    "platform": c.found.platform,
                    "verdict": c.report.verdict.value if c.report else "unknown",
                    "why": c.why,
                }
                for c in self.candidates
            ],
        }


def _platform(desc_platform: Mapping[str, Any] | None) -> str | None:
    if not desc_platform:
        return None
    parts = [desc_platform.get(k) for k in ("os", "architecture", "variant")]
    return "/".join(str(p) for p in parts if isinstance(p, str) and p)


def _tag_names(
    repo: str, parsed: Any, patterns: Sequence[str], store: Any, transport: Any
) -> list[tuple[str, str]]:
    """(tag, reference) of every tag of the repository ``parsed`` names that matches one of
    ``patterns`` (globs; every tag when none), in tag order. The registry's tags list is read
    with its ``Link`` paging; a default-store name lists the entries of that name."""
    from .. import oci

    base = parsed.repo
    if parsed.name:  # REPO:TAG names one tag
        shown = parsed.name.split(":", 1)[1] if parsed.default_store else parsed.name
        names = [(shown, parsed.name)]
    else:
        listed = oci.list_tags(base, store=store, transport=transport)
        if parsed.default_store:
            prefix = f"{parsed.repository}:"
            names = [(t.removeprefix(prefix), t) for t in listed if t.startswith(prefix)]
            if not names:
                raise NotInStore(
                    f"{repo}: no entry of that name in the default store {parsed.path}"
                )
        else:
            names = [(t, t) for t in listed]
            if not names:
                raise RegistryError(f"{repo}: no tags (the repository is empty or does not exist)")
    if patterns:
        names = [(t, n) for t, n in names if any(fnmatch.fnmatchcase(t, p) for p in patterns)]
    if not names:
        what = f" matching {', '.join(patterns)}" if patterns else ""
        raise CompatError(f"{repo}: no tag{what}")
    return [(t, f"{base}:{n}") for t, n in sorted(names)]


def crawl(
    repo: str,
    *,
    tags: Sequence[str] | None = None,
    store: Any = None,
    transport: Any = None,
    progress: Callable[[int, int], None] | None = None,
    trusted: TrustedKeys | None = None,
) -> Iterator[Found]:
    """Every platform manifest of every tag of ``repo`` (or of the tag or digest it names),
    each with its newest record (with ``trusted`` keys: its newest record signed by one of
    them). ``tags``: globs (``1.14.*``) a tag must match. Without a tag, ``repo`` is the whole
    repository: every tag is read (the tags list, with paging), never only ``latest``.
    ``progress(done, total)`` is called after each tag."""
    from .. import oci
    from ..oci import manifest as m

    parsed = oci.parse(repo, store=store, default_tag=None)
    if parsed.kind == "layout" and parsed.path is not None and not parsed.default_store:
        index_json = parsed.path / "index.json"
        if not index_json.is_file():
            raise CompatError(f"{repo}: no OCI image layout at {parsed.path} (no index.json)")
    if parsed.digest:
        named: list[tuple[str, str]] = [(parsed.name or "", f"{parsed.repo}@{parsed.digest}")]
        if parsed.default_store and parsed.name:
            named = [(parsed.name.split(":", 1)[1], f"{parsed.repo}@{parsed.digest}")]
    else:
        named = _tag_names(repo, parsed, tags or (), store, transport)
    base = parsed.repo
    for done, (tag, tag_ref) in enumerate(named, 1):
        st, r = oci.open_store(tag_ref, store=store, transport=transport)
        man = st.resolve(r.reference or tag)
        if man.is_index:
            children = [
                d
                for d in m.index_descriptors(man.json, where=tag_ref)
                if d.media_type in m.MANIFEST_TYPES and d.platform
            ]
            targets = [(d.digest, _platform(d.platform)) for d in children] or [(man.digest, None)]
        else:
            targets = [(man.digest, None)]
        for digest, platform in targets:
            ref = f"{base}@{digest}"
            try:
                if trusted is not None:
                    got, why = oci.pull_trusted(ref, trusted, store=store, transport=transport)
                    yield Found(
                        ref=ref,
                        tag=tag,
                        digest=digest,
                        platform=platform,
                        record=got,
                        problem=None if got else why,
                        signed_by=why if got else None,
                        unsigned=got is None,
                    )
                    continue
                record = oci.pull(ref, store=store, transport=transport)
                yield Found(ref=ref, tag=tag, digest=digest, platform=platform, record=record)
            except NameplateError as exc:
                yield Found(ref=ref, tag=tag, digest=digest, platform=platform, problem=str(exc))
        if progress is not None:
            progress(done, len(named))


def _path_like(target: str) -> str | None:
    """``"file"`` when a target can only be a file path (``*.json``, ``/``, ``./``, ``~``),
    ``"maybe"`` when it has a ``/`` but is no registry or layout reference (a file, or a name
    of the default store), else None."""
    if target.startswith(("oci:", "docker://")):
        return None
    if target.lower().endswith(".json") or target.startswith(("/", "./", "../", "~")):
        return "file"
    if target in (".", ".."):
        return "file"
    if "/" in target or os.sep in target:
        first = target.split("/", 1)[0]
        registry = "." in first or ":" in first or first == "localhost"  # as oci.parse reads it
        return None if registry else "maybe"
    return None


def or_no_such_file(target: str, load: Callable[[], _T]) -> _T:
    """``load()`` the reference ``target`` names when it is missing as a file; a target that
    looks like a file path is ``TARGET: no such file`` (a :class:`CompatError`) instead of a
    lookup in the default store."""
    like = _path_like(target)
    if like == "file":
        raise CompatError(f"{target}: no such file")
    try:
        return load()
    except (RegistryError, CompatError, NotInStore) as exc:
        if like == "maybe":
            raise CompatError(f"{target}: no such file (nor a name in the default store)") from exc
        raise


@functools.cache
def _depth(name: str) -> int:
    import archspec.cpu

    t = archspec.cpu.TARGETS.get(name)
    return len(t.ancestors) if t is not None else 0


def _key(record: Record, report: Report, host: Host) -> tuple[Any, ...]:
    verdict_rank = {Verdict.PASS: 2, Verdict.UNKNOWN: 1, Verdict.FAIL: 0}[report.verdict]
    target = record.hpc.target.name if record.hpc.target else None
    depth = _depth(target) if target else -1
    host_abis = {m.abi for m in host.mpi}
    mpi_match = 1 if record.hpc.mpi is not None and record.hpc.mpi.abi in host_abis else 0
    has_gpu_host = any(g.vendor == "nvidia" for g in host.gpus) or host.nvidia is not None
    cuda = [g for g in record.hpc.gpu if g.vendor == "nvidia"]
    gpu_fit = 1 if (cuda and has_gpu_host) else 0
    toolkit = max((version_key(g.version or "0") for g in cuda), default=())
    warns = -len(report.codes("warn"))
    created = record.provenance.built_at or record.provenance.extracted_at
    return (verdict_rank, depth, mpi_match, gpu_fit, toolkit, warns, created)


_CRITERIA = (
    "verdict",
    "a less specific CPU target",
    "no MPI of the host's ABI family",
    "no GPU build for this GPU host",
    "an older CUDA toolkit",
    "more warnings",
    "an older record",
)


def _describe(record: Record) -> str:
    bits = [record.hpc.target.name if record.hpc.target else "no CPU target"]
    if record.hpc.mpi:
        bits.append(f"{record.hpc.mpi.implementation} ({record.hpc.mpi.abi})")
    bits.extend(f"{g.runtime} {g.version}" for g in record.hpc.gpu if g.version)
    return ", ".join(bits)


def rank(found: Sequence[Found], host: Host, *, options: CheckOptions | None = None) -> Selection:
    """Check and order the candidates; pure given the records and the host."""
    scored: list[tuple[tuple[Any, ...], Found, Report | None]] = []
    for f in found:
        if f.record is None:
            scored.append(((-1,), f, None))
            continue
        checked = check(f.record, host, options=options)
        scored.append((_key(f.record, checked, host), f, checked))
    scored.sort(key=lambda s: (s[0], s[1].ref), reverse=True)
    out: list[Candidate] = []
    best_key = scored[0][0] if scored else ()
    for i, (key, f, report) in enumerate(scored):
        if f.unsigned:
            why = f"unknown: {f.problem}"
        elif report is None or f.record is None:
            why = f"no record: {f.problem or 'none attached'}"
        elif report.verdict is Verdict.FAIL:
            why = "does not run: " + "; ".join(report.why_not)
        elif i == 0:
            why = f"best: {_describe(f.record)}"
        else:
            lost = next(
                (
                    _CRITERIA[j]
                    for j, (a, b) in enumerate(zip(key, best_key, strict=False))
                    if a != b
                ),
                "the same rank; the reference breaks the tie",
            )
            why = f"runs, but lost on {lost} ({_describe(f.record)})"
            if report.verdict is Verdict.UNKNOWN:
                why += "; unknown: " + "; ".join(report.why_not)
        out.append(Candidate(found=f, report=report, key=key, why=why))
    return Selection(candidates=tuple(out))


def select(
    repo: str,
    host: Host,
    *,
    options: CheckOptions | None = None,
    tags: Sequence[str] | None = None,
    store: Any = None,
    transport: Any = None,
    progress: Callable[[int, int], None] | None = None,
    trusted: TrustedKeys | None = None,
) -> Selection:
    """Crawl ``repo`` (every tag, or those matching the globs ``tags``) and rank its manifests
    for ``host``; ``transport``: how the registry is reached (:class:`nameplate.oci.Transport`);
    with ``trusted`` keys only records signed by one of them count."""
    found = crawl(
        repo, tags=tags, store=store, transport=transport, progress=progress, trusted=trusted
    )
    return rank(list(found), host, options=options)
