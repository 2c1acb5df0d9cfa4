"""``nameplate host``, ``check``, ``select``, ``index`` and ``query``.

Imports of :mod:`nameplate.compat` happen inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from ._options import (
    REF,
    Destination,
    ReferenceType,
    format_option,
    output_option,
    registry_options,
)
from .trust import trust_options

if TYPE_CHECKING:
    from ..compat.profile import Host
    from ..compat.rules import CheckOptions
    from ..oci import Transport
    from ..record import Record
    from ..sign import TrustedKeys

__all__ = ["COMMANDS"]

_MODES = ["auto", "contained", "mpi_replace", "mpi_system", "libfabric_inject"]

_host_option = click.option(
    "--host",
    "host_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="A host profile (nameplate host -f json) instead of this machine.",
)
_mode_option = click.option(
    "--mpi-mode",
    type=click.Choice(_MODES),
    default="auto",
    show_default=True,
    help="MPI portability mode (HPC3); auto: the record's annotation, else its default.",
)
_tag_option = click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="GLOB",
    help="Only tags matching GLOB (1.14.*); repeatable. Default: every tag.",
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
@format_option()
@output_option("the profile")
def host(fmt: str, output: Destination) -> None:
    """Detect this host: CPU, libc, MPI, GPUs, OS.

    Every probe has a timeout; what cannot be learnt is listed as unknown.
    The JSON form validates against schemas/host/host-1.1.0.schema.json and
    is what --host of check, select and query reads.
    """
    from ..compat.host import detect
    from ._output import emit

    profile = detect()
    emit(output, profile.to_json() if fmt == "json" else _host_text(profile))


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


def _load_target(target: str, platform: str | None, transport: Transport | None) -> Record:
    from pathlib import Path

    from ..record import Record
    from ._output import load_record

    if target == "-":
        return load_record(target)
    path = Path(target)
    if path.is_file() and path.suffix == ".json":
        return Record.load(path)
    if path.exists():
        from .. import sources

        return sources.extract(path, combined=True)
    from .. import oci
    from ..compat.select import or_no_such_file

    return or_no_such_file(target, lambda: oci.pull(target, platform=platform, transport=transport))


@click.command()
@click.argument("target", type=ReferenceType(path_ok=True))
@_host_option
@format_option()
@output_option("the report")
@_mode_option
@click.option("--platform", default=None, help="os/arch[/variant] of an image index.")
@registry_options
@trust_options
def check(
    *,
    target: str,
    host_file: str | None,
    fmt: str,
    output: Destination,
    mpi_mode: str,
    platform: str | None,
    transport: Transport | None,
    trusted: TrustedKeys | None,
) -> None:
    """Check whether a record, image or binary runs on a host.

    TARGET is a record file (*.json, or - for standard input), a binary or
    install to extract, or an image reference whose newest attached record is
    pulled (with --require-signed: its newest record signed by a trusted key).
    Exit 0 if it runs (pass), 1 if it does not (fail), 3 if a needed fact is
    unknown (or no record is signed by a trusted key).
    """
    from ..compat.report import check as run_check
    from ._output import emit

    if trusted is None:
        record = _load_target(target, platform, transport)
        report = run_check(record, _host(host_file), options=_options(mpi_mode))
    else:
        from ..compat.signed import signed_report, trusted_target, unsigned_report

        host_profile = _host(host_file)
        signed, why = trusted_target(target, trusted, platform=platform, transport=transport)
        if signed is None:
            report = unsigned_report(target, host_profile.name or host_profile.cpu.target, why)
        else:
            report = run_check(signed, host_profile, options=_options(mpi_mode))
            report = signed_report(report, why)
    emit(output, report.to_json() if fmt == "json" else report.to_text())
    raise SystemExit(report.verdict.exit_code)


@click.command()
@click.argument("repo", type=REF)
@_host_option
@format_option()
@output_option("the ranking")
@_mode_option
@_tag_option
@registry_options
@trust_options
def select(
    *,
    repo: str,
    host_file: str | None,
    fmt: str,
    output: Destination,
    mpi_mode: str,
    tags: tuple[str, ...],
    transport: Transport | None,
    trusted: TrustedKeys | None,
) -> None:
    """Pick the tag of a repository that fits a host best.

    Lists every tag of REPO (or the tags matching --tag) and their platform
    manifests, pulls their records and ranks those that run: most specific
    CPU target, MPI of the host's ABI, CUDA fit, newest. Prints the best
    reference and why the others lost. With --require-signed, only records
    signed by a trusted key count. Exit 0 with a pick, 1 if nothing runs
    here.
    """
    from .._terminal import printable
    from ..compat.select import select as run_select
    from ._output import emit, progress

    host_profile = _host(host_file)
    with progress(None, f"reading the tags of {repo}") as bar:
        sel = run_select(
            repo,
            host_profile,
            options=_options(mpi_mode),
            tags=tags or None,
            transport=transport,
            progress=None if bar is None else bar.update,
            trusted=trusted,
        )
    if fmt == "json":
        import json

        emit(output, json.dumps(sel.to_dict(), indent=2, sort_keys=True) + "\n")
    else:
        best = sel.best
        lines = [
            f"best: {printable(best.found.ref)} (tag {printable(best.found.tag)})"
            if best
            else "best: none"
        ]
        for c in sel.candidates:
            where = f"{c.found.tag}{' ' + c.found.platform if c.found.platform else ''}"
            lines.append(f"  {printable(where)}: {printable(c.why)}")
        emit(output, "".join(line + "\n" for line in lines))
    raise SystemExit(0 if sel.best else 1)


_LIMIT_MAX = 1_000_000_000
"""The largest ``--limit`` (SQLite integers are 64-bit; no catalog holds more records)."""

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
@click.argument("refs", nargs=-1, type=ReferenceType(path_ok=True))
@_catalog_option
@_tag_option
@registry_options
@trust_options
@format_option()
def index(
    *,
    refs: tuple[str, ...],
    catalog: str | None,
    tags: tuple[str, ...],
    transport: Transport | None,
    trusted: TrustedKeys | None,
    fmt: str,
) -> None:
    """Crawl repositories into a catalog of records.

    Each REF is a repository (every tag, or those matching --tag), a tag or
    digest, or a local record file. Tags, platform manifests and their newest
    attached records are written in one transaction per batch; re-indexing
    replaces entries. With --require-signed, only records signed by a trusted
    key are indexed. Without REFS, creates the catalog, or upgrades one
    written by an earlier version.
    """
    from .._terminal import printable
    from ..compat.catalog import Catalog, collect
    from ._output import progress

    with progress(None, "indexing") as bar:

        def step(ref: str, done: int, total: int) -> None:
            if bar is not None:
                bar.label = f"indexing {printable(ref)}"
                bar.update(done, total)

        # every input first: a failure leaves no catalog behind
        entries, problems = collect(
            refs, transport=transport, tags=tags or None, progress=step, trusted=trusted
        )
    with Catalog.open(_catalog_url(catalog)) as cat:
        written = cat.add_many(entries)
        cat.analyze()
        total = cat.count()
    if fmt == "json":
        import json

        doc = {"indexed": written, "total": total, "catalog": cat.url, "skipped": problems}
        click.echo(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False))
        return
    for p in problems:
        click.echo(f"skipped {printable(p)}", err=True)
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
@format_option()
@output_option("the results")
@click.option(
    "--limit",
    type=click.IntRange(min=1, max=_LIMIT_MAX),
    default=None,
    metavar="N",
    help="At most N results (1 or more).",
)
@click.option(
    "--any-node",
    is_flag=True,
    help="The first clause may match any component, not only a record's root.",
)
def query(
    *,
    spec: str,
    catalog: str | None,
    host_file: str | None,
    fmt: str,
    output: Destination,
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
    from .._terminal import printable
    from ..compat.catalog import Catalog
    from ._output import emit

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

        emit(output, json.dumps(rows, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    else:
        lines = []
        for row in rows:
            extra = f" [{row['verdict']}]" if "verdict" in row else ""
            name = f"{row['subject']}@{row['version'] or '?'}"
            lines.append(f"{printable(row['source'])}  {printable(name)}{extra}")
        emit(output, "".join(line + "\n" for line in lines))
    raise SystemExit(0 if rows else 1)


COMMANDS: dict[str, click.Command] = {
    "host": host,
    "check": check,
    "select": select,
    "index": index,
    "query": query,
}
