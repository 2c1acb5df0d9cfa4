"""``nameplate validate`` and ``nameplate show``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ._options import Destination, ParamBase, format_option, output_option

__all__ = ["COMMANDS"]


@click.command()
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the errors.")
@format_option()
@output_option("the report")
def validate(files: tuple[Path, ...], quiet: bool, fmt: str, output: Destination) -> None:
    """Validate record files against the record schema.

    A file (- for standard input) may hold one record or a JSON array of
    records. Every error is listed with its JSON path. Exit 0 if all are
    valid, 1 if any is not, 3 if a file cannot be read.
    """
    from .. import schema
    from .._io import parse_json
    from .._terminal import printable
    from ..errors import RecordValidationError
    from ._output import emit, read_input

    results: list[dict[str, Any]] = []
    for path in files:
        raw, where = read_input(path)
        data = parse_json(raw, where)
        docs = data if isinstance(data, list) else [data]
        if not docs:
            results.append(
                {
                    "file": str(path),
                    "valid": False,
                    "errors": [["$", "an empty array holds no record"]],
                }
            )
        for i, doc in enumerate(docs):
            try:
                errors = (
                    schema.errors_of(doc) if isinstance(doc, dict) else [("$", "not an object")]
                )
            except RecordValidationError as exc:  # an unknown schema_version
                errors = list(exc.errors)
            result: dict[str, Any] = {"file": where, "valid": not errors}
            if isinstance(data, list):
                result["index"] = i
            if errors:
                result["errors"] = [list(e) for e in errors]
            else:
                result["components"] = len(doc.get("components", []))
            results.append(result)
    if fmt == "json":
        emit(output, json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    else:
        lines = []
        for r in results:
            name = r["file"] + (f"[{r['index']}]" if "index" in r else "")
            for where, message in r.get("errors", []):
                lines.append(f"{printable(name)}: {printable(where)}: {printable(message)}")
            if r["valid"] and not quiet:
                lines.append(f"{printable(name)}: valid record ({r['components']} components)")
        emit(output, "".join(line + "\n" for line in lines))
    if any(not r["valid"] for r in results):
        raise SystemExit(1)


class DepTypes(ParamBase):
    """``link,run``, any of ``build,link,run,test``, or ``all``."""

    name = "deptypes"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, ...]:
        from ..summary import ALL_DEPTYPES

        if isinstance(value, tuple):
            return value
        parts = [p.strip() for p in str(value).split(",") if p.strip()]
        if parts == ["all"]:
            return ALL_DEPTYPES
        bad = [p for p in parts if p not in ALL_DEPTYPES]
        if bad or not parts:
            self.fail(f"{value!r}: a comma list of build, link, run, test, or all", param, ctx)
        return tuple(t for t in ALL_DEPTYPES if t in parts)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[click.shell_completion.CompletionItem]:
        from click.shell_completion import CompletionItem

        common = ("link,run", "all", "build,link,run", "link", "run", "build", "test")
        return [CompletionItem(c) for c in common if c.startswith(incomplete)]


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@format_option()
@output_option("the summary")
@click.option("-l", "--long", is_flag=True, help="Show the short hash of each Spack node.")
@click.option(
    "--deptypes",
    type=DepTypes(),
    default="link,run",
    show_default=True,
    metavar="TYPES",
    help="Follow only these dependency types (build,link,run,test or all).",
)
@click.option(
    "--depth",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Show N levels of dependencies below the roots (0: the roots only).",
)
def show(
    *,
    file: Path,
    fmt: str,
    output: Destination,
    long: bool,
    deptypes: tuple[str, ...],
    depth: int | None,
) -> None:
    """Show a record as spack spec shows a spec: roots, dependency tree, HPC fields.

    FILE is a record file, or - for standard input.

    Spack nodes read as spack find -lv prints them, EasyBuild installs as
    their module name; an image lists its HPC roots and counts its OS
    packages.
    """
    from .._terminal import printable
    from ..summary import summarize
    from ._output import emit, load_record

    record = load_record(file)
    summary = summarize(record, depth=depth, deptypes=deptypes, long=long)
    if fmt == "json":
        emit(output, json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        return
    subject = record.subject
    title = f"{subject.kind} {printable(subject.name)}"
    if subject.version and subject.kind != "image":  # an image's name ends with its tag
        title += f" {printable(subject.version)}"
    lines = [title]
    if subject.platform or subject.digest:
        lines.append(f"  {' '.join(printable(x) for x in (subject.platform, subject.digest) if x)}")
    lines.append(f"  serial     {printable(record.serial)}")
    roots = len(record.roots)
    lines.append(
        f"  components {len(record.components)}, edges {len(record.dependencies)}, "
        f"roots {roots}; following {','.join(deptypes)} edges"
    )
    lines.append("")
    if summary["tree"]:
        lines.extend(summary["tree"])
    else:
        lines.append("(no Spack, EasyBuild or binary roots)")
    packages = summary["os_packages"]
    if packages:
        os_name = record.hpc.os
        where = f" ({printable(os_name.pretty_name or os_name.name)})" if os_name else ""
        counts = ", ".join(f"{n} {printable(eco)}" for eco, n in packages.items())
        lines += ["", f"OS packages: {counts}{where}"]
    lines += ["", "HPC fields:"]
    lines += [f"  {key:<10} {printable(value)}" for key, value in summary["hpc"].items()]
    if record.unknowns:
        lines += ["", f"Unknowns ({len(record.unknowns)}):"]
        lines += [
            f"  {printable(u.path)}: {printable(u.field or '-')}: {printable(u.reason)}"
            for u in record.unknowns[:20]
        ]
    emit(output, "".join(line + "\n" for line in lines))


COMMANDS: dict[str, click.Command] = {"validate": validate, "show": show}
