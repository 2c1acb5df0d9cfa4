"""``nameplate export``, ``nameplate sparql`` and ``nameplate merge``: standard formats."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from pathlib import Path

import click

from .. import formats
from .._io import atomic_write, atomic_writer, load_json_file, load_record, read_bounded
from ..errors import ExportError, SourceError

__all__ = ["COMMANDS"]

_FORMAT_CHOICES = sorted({*formats.FORMATS, *formats.ALIASES})


def _emit(data: bytes, output: Path | None) -> None:
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        atomic_write(output, data)


@click.command("export")
@click.argument("record", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(_FORMAT_CHOICES, case_sensitive=False),
    metavar="FORMAT",
    default="cyclonedx-json",
    show_default=True,
    help=(
        "cyclonedx-json (1.6), cyclonedx-1.7-json, cyclonedx-xml, cyclonedx-1.7-xml, "
        "spdx-2.3, spdx-3.0.1, jsonld, turtle, intoto-slsa, intoto-cyclonedx or nfd; "
        "aliases: cyclonedx, cdx, spdx, spdx3, json-ld, ttl, slsa, intoto."
    ),
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (atomically) instead of standard output.",
)
def export(record: Path, fmt: str, output: Path | None) -> None:
    """Export RECORD as CycloneDX, SPDX, JSON-LD, Turtle or an in-toto statement.

    The same record always gives the same bytes. Statements are unsigned: sign them
    with cosign or sigstore-python (see docs/formats/intoto.md).
    """
    loaded = load_record(record)
    name = formats.resolve(fmt)
    if output is None:
        formats.write(loaded, name, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        with atomic_writer(output) as out:
            formats.write(loaded, name, out)


@click.command("sparql")
@click.argument("query")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--store",
    type=click.Choice(["auto", "memory", "oxigraph"]),
    default="auto",
    show_default=True,
    help="RDF store: Oxigraph (oxrdflib) when installed, else rdflib's memory store.",
)
@click.option(
    "--output",
    "out_fmt",
    type=click.Choice(["tsv", "csv", "json"]),
    default="tsv",
    show_default=True,
    help="Result format.",
)
def sparql(query: str, files: tuple[Path, ...], store: str, out_fmt: str) -> None:
    """Run the SPARQL QUERY over record FILES.

    QUERY is the query text, or the path of a .rq file. Prefixes np: (nameplate
    vocabulary) and schema: are predefined. Exit 1 when the query matches nothing.
    """
    from ..formats import jsonld

    text, source = _query_text(query)
    graph = jsonld.load_graph((load_record(f) for f in files), store=store)
    try:
        names, rows = jsonld.query(graph, text)
    except ExportError as exc:
        if source is None:
            raise
        raise ExportError(f"{source}: {exc}") from exc
    if out_fmt == "json":
        click.echo(json.dumps([dict(zip(names, row, strict=True)) for row in rows], indent=2))
    else:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter="\t" if out_fmt == "tsv" else ",", lineterminator="\n")
        writer.writerow(names)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
        click.echo(buf.getvalue(), nl=False)
    if not rows or rows == [("false",)]:
        raise SystemExit(1)


_QUERY_LIMIT = 1 << 20
"""A query file larger than this (1 MiB) is refused before it is read."""


def _query_text(query: str) -> tuple[str, Path | None]:
    """The SPARQL text of QUERY, and the file it came from: an argument ending in ``.rq``
    without white space is a query file, read bounded and decoded as UTF-8."""
    if not query.endswith(".rq") or any(c.isspace() for c in query):
        return query, None
    path = Path(query)
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    data = read_bounded(path, limit=_QUERY_LIMIT)
    try:
        return data.decode("utf-8"), path
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}") from exc


@click.command("merge")
@click.argument("record", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("sbom", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the merged record here (atomically) instead of standard output.",
)
def merge(record: Path, sbom: Path, output: Path | None) -> None:
    """Add the OS packages of SBOM (CycloneDX or SPDX 2.x JSON, e.g. from Syft or
    Trivy) to RECORD, and print the merged record.

    HPC fields come from nameplate; OS packages (deb, rpm, apk...) from your scanner.
    """
    from .. import schema
    from ..formats import sbom_import

    base = load_record(record)
    doc = load_json_file(sbom)
    digest = "sha256:" + hashlib.sha256(sbom.read_bytes()).hexdigest()
    merged = sbom_import.merge(base, doc, where=str(sbom), digest=digest)
    data = merged.to_dict()
    schema.validate(data, where=f"merge of {record} and {sbom}")
    if not isinstance(data, dict):  # pragma: no cover - to_dict always gives a dict
        raise ExportError(f"{record}: merge produced no record")
    _emit(merged.to_json().encode(), output)


COMMANDS: dict[str, click.Command] = {"export": export, "sparql": sparql, "merge": merge}
