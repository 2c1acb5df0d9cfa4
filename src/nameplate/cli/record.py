"""``nameplate validate`` and ``nameplate show``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._options import output_format

__all__ = ["COMMANDS"]


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-q", "--quiet", is_flag=True, help="Print only the errors.")
def validate(files: tuple[Path, ...], quiet: bool) -> None:
    """Validate record files against the record schema.

    A file may hold one record or a JSON array of records. Every error is
    listed with its JSON path. Exit 0 if all are valid, 1 if any is not, 3 if a
    file cannot be read.
    """
    from .. import schema
    from .._io import load_json_file
    from ..errors import RecordValidationError

    bad = 0
    for path in files:
        data = load_json_file(path)
        docs = data if isinstance(data, list) else [data]
        if not docs:
            bad += 1
            click.echo(f"{path}: $: an empty array holds no record")
        for i, doc in enumerate(docs):
            name = f"{path}[{i}]" if isinstance(data, list) else str(path)
            try:
                errors = (
                    schema.errors_of(doc) if isinstance(doc, dict) else [("$", "not an object")]
                )
            except RecordValidationError as exc:  # an unknown schema_version
                errors = list(exc.errors)
            if errors:
                bad += 1
                for where, message in errors:
                    click.echo(f"{name}: {where}: {message}")
            elif not quiet:
                count = len(doc.get("components", []))
                click.echo(f"{name}: valid record ({count} components)")
    if bad:
        raise SystemExit(1)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@output_format
@click.option("--depth", type=int, default=None, help="Limit the dependency tree depth.")
def show(file: Path, fmt: str, depth: int | None) -> None:
    """Show a record: root, dependency tree with edge types, HPC fields."""
    from .._io import load_record
    from ..summary import summarize, tree_lines

    record = load_record(file)
    if fmt == "json":
        click.echo(json.dumps(summarize(record, depth=depth), indent=2, sort_keys=True))
        return
    summary = summarize(record, depth=depth)
    subject = summary["subject"]
    click.echo(f"{subject['kind']}: {subject['name']} {subject.get('version') or ''}".rstrip())
    click.echo(f"  serial     {record.serial}")
    click.echo(f"  components {len(record.components)}, edges {len(record.dependencies)}")
    click.echo("")
    for line in tree_lines(record, depth=depth):
        click.echo(line)
    click.echo("")
    click.echo("HPC fields:")
    for key, value in summary["hpc"].items():
        click.echo(f"  {key:<10} {value}")
    if record.unknowns:
        click.echo("")
        click.echo(f"Unknowns ({len(record.unknowns)}):")
        for u in record.unknowns[:20]:
            click.echo(f"  {u.path}: {u.field or '-'}: {u.reason}")


COMMANDS: dict[str, click.Command] = {"validate": validate, "show": show}
