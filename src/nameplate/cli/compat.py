"""``nameplate host``, ``check``, ``select``, ``index`` and ``query``.

Imports of :mod:`nameplate.compat` happen inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from ._options import output_format

if TYPE_CHECKING:
    from ..compat.profile import Host
    from ..compat.rules import CheckOptions
    from ..record import Record

__all__ = ["COMMANDS"]

_MODES = ["auto", "contained", "mpi_replace", "mpi_system", "libfabric_inject"]

_host_option = click.option(
    "--host",
    "host_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="A host profile (nameplate host -o json) instead of this machine.",
)
_mode_option = click.option(
    "--mpi-mode",
    type=click.Choice(_MODES),
    default="auto",
    show_default=True,
    help="MPI portability mode (HPC3); auto: the record's annotation, else its default.",
)


def _host(host_file: str | None) -> Host:
    from .._io import read_bounded
    from ..compat.host import detect
    from ..compat.profile import host_from_json
    from ..errors import CompatError, SourceError

    if host_file is None:
        return detect()
    try:
        text = read_bounded(host_file, limit=_HOST_LIMIT)
    except SourceError as exc:
        raise CompatError(str(exc)) from exc
    return host_from_json(text, where=str(host_file))


_HOST_LIMIT = 16 << 20
"""A host profile is a few KiB; a larger --host file is refused before it is read."""


def _options(mpi_mode: str) -> CheckOptions:
    from ..compat.rules import CheckOptions

    return CheckOptions(mpi_mode=None if mpi_mode == "auto" else mpi_mode)


@click.command()
@output_format
@click.option(
    "--write",
    "write",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the JSON profile to this file.",
)
def host(fmt: str, write: str | None) -> None:
    """Detect this host: CPU, libc, MPI, GPUs, OS.

    Every probe has a timeout; what cannot be learnt is listed as unknown.
    The JSON form validates against schemas/host/host-1.0.0.schema.json and
    is what --host of check, select and query reads.
    """
    from .._io import atomic_write
    from ..compat.host import detect

    profile = detect()
    if write is not None:
        atomic_write(write, profile.to_json().encode())
    if fmt == "json":
        click.echo(profile.to_json(), nl=False)
        return
    click.echo(_host_text(profile), nl=False)


def _host_text(h: Host) -> str:
    cpu = h.cpu
    lines = [
        f"cpu     {cpu.target or '?'} ({cpu.family or '?'}, {cpu.vendor or '?'}), "
        f"{len(cpu.flags)} flags",
        f"libc    {h.libc.family + ' ' + (h.libc.version or '?') if h.libc else '?'}",
        f"libstdc++ GLIBCXX_{(h.cxx.glibcxx if h.cxx else None) or '?'}, "
        f"CXXABI_{(h.cxx.cxxabi if h.cxx else None) or '?'}",
    ]
    for m in h.mpi:
        lines.append(f"mpi     {m.soname} ({m.abi}) {m.implementation or ''} [{m.source}]")
    if h.nvidia:
        lines.append(
            f"nvidia  driver {h.nvidia.driver_version or '?'}, CUDA {h.nvidia.cuda_version or '?'}"
        )
    if h.amd:
        lines.append(f"amd     ROCm {h.amd.rocm_version or '?'}")
    for g in h.gpus:
        lines.append(f"gpu {g.index}   {g.name or g.vendor} {g.compute_capability or g.gfx or ''}")
    if h.os:
        lines.append(f"os      {h.os.pretty_name or h.os.id or '?'}")
    lines.append(f"kernel  {h.kernel or '?'}")
    for u in h.unknowns:
        lines.append(f"unknown {u.probe}: {u.reason}")
    return "\n".join(lines) + "\n"


def _load_target(target: str, platform: str | None) -> Record:
    from pathlib import Path

    from .._io import load_record

    path = Path(target)
    if path.is_file() and path.suffix == ".json":
        return load_record(path)  # type: ignore[no-any-return]
    if path.exists():
        from .. import sources

        return sources.extract(path)
    from .. import oci
    from ..compat.select import or_no_such_file

    return or_no_such_file(target, lambda: oci.pull(target, platform=platform))


@click.command()
@click.argument("target")
@_host_option
@output_format
@_mode_option
@click.option("--platform", default=None, help="os/arch[/variant] of an image index.")
def check(
    target: str, host_file: str | None, fmt: str, mpi_mode: str, platform: str | None
) -> None:
    """Check whether a record, image or binary runs on a host.

    TARGET is a record file (*.json), a binary or install to extract, or an
    image reference whose newest attached record is pulled. Exit 0 if it
    runs (pass), 1 if it does not (fail), 3 if a needed fact is unknown.
    """
    from ..compat.report import check as run_check

    record = _load_target(target, platform)
    report = run_check(record, _host(host_file), options=_options(mpi_mode))
    click.echo(report.to_json() if fmt == "json" else report.to_text(), nl=False)
    raise SystemExit(report.verdict.exit_code)


@click.command()
@click.argument("repo")
@_host_option
@output_format
@_mode_option
@click.option("--tag", "tags", multiple=True, help="Only these tags (repeatable).")
def select(
    repo: str, host_file: str | None, fmt: str, mpi_mode: str, tags: tuple[str, ...]
) -> None:
    """Pick the tag of a repository that fits a host best.

    Lists the tags and platform manifests of REPO, pulls their records and
    ranks those that run: most specific CPU target, MPI of the host's ABI,
    CUDA fit, newest. Prints the best reference and why the others lost.
    Exit 0 with a pick, 1 if nothing runs here.
    """
    from ..compat.select import select as run_select

    sel = run_select(repo, _host(host_file), options=_options(mpi_mode), tags=tags or None)
    if fmt == "json":
        import json

        click.echo(json.dumps(sel.to_dict(), indent=2, sort_keys=True))
    else:
        best = sel.best
        click.echo(f"best: {best.found.ref} (tag {best.found.tag})" if best else "best: none")
        for c in sel.candidates:
            where = f"{c.found.tag}{' ' + c.found.platform if c.found.platform else ''}"
            click.echo(f"  {where}: {c.why}")
    raise SystemExit(0 if sel.best else 1)


_catalog_option = click.option(
    "--catalog",
    default=None,
    help="SQLite file or postgresql:// URL [default: $NAMEPLATE_CATALOG or "
    "~/.local/share/nameplate/catalog.db].",
)


def _catalog_url(value: str | None) -> str:
    from ..compat.catalog import default_catalog

    return value or default_catalog(os.environ)


@click.command()
@click.argument("refs", nargs=-1)
@_catalog_option
def index(refs: tuple[str, ...], catalog: str | None) -> None:
    """Crawl repositories into a catalog of records.

    Each REF is a repository (every tag), a tag or digest, or a local record
    file. Tags, platform manifests and their newest attached records are
    written in one transaction per batch; re-indexing replaces entries.
    Without REFS, creates the catalog, or upgrades one written by an earlier
    version.
    """
    from ..compat.catalog import Catalog, collect

    entries, problems = collect(refs)  # every input first: a failure leaves no catalog behind
    with Catalog.open(_catalog_url(catalog)) as cat:
        written = cat.add_many(entries)
        cat.analyze()
        total = cat.count()
    for p in problems:
        click.echo(f"skipped {p}", err=True)
    click.echo(f"indexed {written} records ({total} in the catalog)")


@click.command()
@click.argument("spec")
@_catalog_option
@click.option(
    "--compatible-with",
    "host_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Keep only records that do not fail on this host profile.",
)
@output_format
@click.option("--limit", type=int, default=None, help="At most this many results.")
@click.option(
    "--any-node",
    is_flag=True,
    help="The first clause may match any component, not only a record's root.",
)
def query(
    spec: str,
    *,
    catalog: str | None,
    host_file: str | None,
    fmt: str,
    limit: int | None,
    any_node: bool,
) -> None:
    """Query the catalog in Spack spec syntax.

    Example: 'hdf5@1.14: +mpi ^mpi target=zen3:'. A record matches when its
    root satisfies the first clause (any component with --any-node) and a
    component satisfies each ^ clause; a virtual (mpi, blas) matches its
    providers, /HASH a Spack DAG hash prefix. Each result names where the
    record came from (registry reference or file). Exit 0 with results, 1
    with none.
    """
    from ..compat.catalog import Catalog

    host_profile = _host(host_file) if host_file is not None else None
    with Catalog.open(_catalog_url(catalog), readonly=True) as cat:
        hits = cat.query(spec, limit=None if host_file else limit, any_node=any_node)
    rows: list[dict[str, Any]] = []
    for hit in hits:
        verdict = None
        if host_profile is not None:
            from ..compat.report import Verdict, check

            verdict = check(hit.record(), host_profile).verdict
            if verdict is Verdict.FAIL:
                continue
        rows.append(
            {
                "source": hit.source,
                "ref": hit.ref or hit.key,
                "origin": hit.origin,
                "subject": hit.subject,
                "version": hit.version,
                "platform": hit.platform,
                "created": hit.created,
                **({"verdict": verdict.value} if verdict else {}),
            }
        )
        if limit is not None and len(rows) >= limit:
            break
    if fmt == "json":
        import json

        click.echo(json.dumps(rows, indent=2, sort_keys=True))
    else:
        for row in rows:
            extra = f" [{row['verdict']}]" if "verdict" in row else ""
            click.echo(f"{row['source']}  {row['subject']}@{row['version'] or '?'}{extra}")
    raise SystemExit(0 if rows else 1)


COMMANDS: dict[str, click.Command] = {
    "host": host,
    "check": check,
    "select": select,
    "index": index,
    "query": query,
}
