"""``nameplate export``, ``nameplate sparql`` and ``nameplate merge``: standard formats."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from functools import partial
from pathlib import Path

import click

from .. import formats
from .._io import parse_json, read_bounded
from ..errors import ExportError, SourceError
from ._options import Destination, format_option, output_option
from ._output import emit, emit_stream, load_record, note, progress

__all__ = ["COMMANDS"]

_FORMAT_CHOICES = sorted({*formats.FORMATS, *formats.ALIASES})


@click.command("export")
@click.argument("record", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
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
@output_option("the export", folder="<name>-<version>.<format extension>")
def export(record: Path, fmt: str, output: Destination) -> None:
    """Export RECORD (a file, or - for standard input) as CycloneDX, SPDX, JSON-LD,
    Turtle or an in-toto statement.

    The same record always gives the same bytes. Statements are unsigned: sign them
    with cosign or sigstore-python (see docs/formats/intoto.md).
    """
    from .._filenames import record_stem

    name = formats.resolve(fmt)
    large = record.is_file() and record.stat().st_size > _LARGE
    with progress(3 if large else 0, f"exporting {record.name} as {name}") as bar:
        loaded = load_record(record)
        if bar is not None:
            bar.label += f" ({len(loaded.components)} components)"
            bar(1)
        if bar is not None:
            bar(1)
        stem = record_stem(loaded) + formats.EXTENSIONS.get(name, ".out")
        # written as it is made: a large record's export needs little more than the record
        written = emit_stream(output, partial(formats.write, loaded, name), name=stem)
        if bar is not None:
            bar(1)
    if written is not None and output.folder:
        note(f"wrote {written}")


_LARGE = 2 << 20
"""A record file over this size (2 MiB, some 500 components) shows its export's progress on a
terminal."""


@click.command("sparql")
@click.argument("query")
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
)
@click.option(
    "--store",
    type=click.Choice(["auto", "memory", "oxigraph"]),
    default="auto",
    show_default=True,
    help="RDF store: Oxigraph (oxrdflib) when installed, else rdflib's memory store.",
)
@format_option(("tsv", "csv", "json"), default="tsv", help_text="Result format.")
@output_option("the results")
def sparql(query: str, files: tuple[Path, ...], store: str, fmt: str, output: Destination) -> None:
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
    if fmt == "json":
        table = [dict(zip(names, row, strict=True)) for row in rows]
        emit(output, json.dumps(table, indent=2, ensure_ascii=False) + "\n")
    else:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
        writer.writerow(names)
        writer.writerows(["" if v is None else _cell(v, output) for v in row] for row in rows)
        emit(output, buf.getvalue())
    if not rows or rows == [("false",)]:
        raise SystemExit(1)


def _cell(value: str, output: Destination) -> str:
    """A result cell: escaped for a terminal (control and bidi characters), exact in a file."""
    from .._terminal import printable

    return printable(value) if output.stdout else value


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
@click.argument("record", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.argument("sbom", type=click.Path(dir_okay=False, path_type=Path))
@output_option("the merged record", folder="<name>-<version>.nameplate.json")
def merge(record: Path, sbom: Path, output: Destination) -> None:
    """Add the OS packages of SBOM (CycloneDX or SPDX 2.x JSON, e.g. from Syft or
    Trivy) to RECORD (- for standard input), and print the merged record.

    HPC fields come from nameplate; OS packages (deb, rpm, apk...) from your scanner.
    """
    from .. import schema
    from .._filenames import RECORD_SUFFIX, record_stem
    from ..errors import InternalError, RecordValidationError
    from ..formats import sbom_import

    base = load_record(record)
    raw = read_bounded(sbom)
    doc = parse_json(raw, sbom)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    merged = sbom_import.merge(base, doc, where=str(sbom), digest=digest)
    try:
        schema.validate(merged.to_dict(), where=f"merge of {record} and {sbom}")
    except RecordValidationError as exc:
        raise InternalError(
            f"internal error: {exc} (the SBOM reader let through a value it should have "
            "refused; please report it with the SBOM)"
        ) from exc
    written = emit(output, merged.to_json().encode(), name=record_stem(merged) + RECORD_SUFFIX)
    if written is not None and output.folder:
        note(f"wrote {written}")


COMMANDS: dict[str, click.Command] = {"export": export, "sparql": sparql, "merge": merge}
