"""``nameplate extract KIND TARGET``: one record per root, validated, written all-or-nothing."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..oci import Transport

__all__ = ["COMMANDS"]

_KINDS = {
    "spack": "a Spack prefix, store, environment, build cache or spec file",
    "easybuild": "an EasyBuild installation, prefix, module file or easyconfig(s)",
    "image": (
        "an image: oci:DIR[:TAG], a docker/OCI archive, a SIF file (sif:PATH), or a "
        "registry reference"
    ),
    "binary": "an ELF executable or shared library",
    "auto": "whatever TARGET is (detected)",
}


def _options(func: Callable[..., Any]) -> Callable[..., Any]:
    decorators = [
        click.argument("target"),
        click.option(
            "-o",
            "--output",
            type=click.Path(path_type=Path),
            help="Write to FILE (one record) or DIR (one file per record). Default: stdout.",
        ),
        click.option(
            "--root",
            "roots",
            multiple=True,
            metavar="SPEC",
            help="Only the root(s) matching SPEC: name, name@version, /hash. Repeatable.",
        ),
        click.option(
            "--combined", is_flag=True, help="One record for all roots instead of one per root."
        ),
        click.option(
            "--verify-signatures",
            is_flag=True,
            help="Verify signed build-cache specs with gpg; unsigned or bad ones are errors.",
        ),
        click.option(
            "--public-key",
            "public_keys",
            multiple=True,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="An OpenPGP public key to trust for --verify-signatures. Repeatable.",
        ),
        click.option("--platform", help="Image platform, e.g. linux/arm64 (default: this host)."),
        click.option("--no-files", is_flag=True, help="Leave out per-file digests."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _transport_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--plain-http`` and ``--ca-file``, as for the oci commands (image and auto only)."""
    func = click.option(
        "--ca-file",
        type=click.Path(exists=True, dir_okay=False),
        help="Extra CA bundle (PEM) to trust for registry TLS.",
    )(func)
    return click.option(
        "--plain-http", is_flag=True, help="Talk plain HTTP to the registry (never the default)."
    )(func)


def _transport(kw: dict[str, Any]) -> Transport | None:
    """The registry transport of ``--plain-http``/``--ca-file``; None: ``Transport()``'s
    defaults (``NAMEPLATE_PLAIN_HTTP``, ``NAMEPLATE_CA_FILE``)."""
    if not kw.get("plain_http") and not kw.get("ca_file"):
        return None
    from ..oci import Transport

    base = Transport()
    return Transport(
        plain_http=True if kw.get("plain_http") else base.plain_http,
        ca_file=kw.get("ca_file") or base.ca_file,
    )


def _file_name(data: dict[str, Any]) -> str:
    subject = data.get("subject", {})
    stem = "-".join(str(p) for p in (subject.get("name"), subject.get("version")) if p)
    stem = re.sub(r"[^A-Za-z0-9._+-]+", "_", stem.rsplit("/", 1)[-1]) or "record"
    roots = data.get("roots") or [data.get("serial", "")]
    return f"{stem}-{str(roots[0]).rsplit(':', 1)[-1][:7]}.nameplate.json"


def _run(kind: str, target: str, output: Path | None, **kw: Any) -> None:
    from .. import schema, sources
    from .._io import atomic_write
    from ..errors import NameplateError
    from ..sources import ExtractOptions

    options = ExtractOptions(
        roots=tuple(kw["roots"]),
        combined=bool(kw["combined"]),
        verify_signatures=bool(kw["verify_signatures"]),
        public_keys=tuple(kw["public_keys"]),
        platform=kw["platform"],
        include_files=not kw["no_files"],
        progress=sys.stderr.isatty(),
        transport=_transport(kw),
    )
    records = sources.extract_all(target, kind=None if kind == "auto" else kind, options=options)
    docs = [r.to_dict() for r in records]
    for doc in docs:  # validate everything before writing anything
        schema.validate(doc, where=target)
    texts = [json.dumps(d, indent=2, sort_keys=True, ensure_ascii=False) + "\n" for d in docs]
    if output is None:
        if len(texts) == 1:
            click.echo(texts[0], nl=False)
        else:
            click.echo(json.dumps(docs, indent=2, sort_keys=True, ensure_ascii=False))
        return
    if len(texts) == 1 and not output.is_dir():
        atomic_write(output, texts[0].encode())
        click.echo(f"wrote {output}", err=True)
        return
    if (output.exists() and not output.is_dir()) or output.suffix == ".json":
        raise NameplateError(
            f"{output}: {len(texts)} records: -o needs a directory here "
            "(or choose one with --root, or join them with --combined)"
        )
    output.mkdir(parents=True, exist_ok=True)
    for doc, text in zip(docs, texts, strict=True):
        atomic_write(output / _file_name(doc), text.encode())
    click.echo(f"wrote {len(texts)} records to {output}/", err=True)


@click.group()
def extract() -> None:
    """Extract build records from Spack, EasyBuild, images or binaries.

    Each root found gives one record (use --combined for one record over all
    roots). Records are validated before anything is written; with -o, files
    appear whole or not at all.
    """


def _make(kind: str) -> click.Command:
    def command(target: str, output: Path | None, **kw: Any) -> None:
        _run(kind, target, output, **kw)

    command.__doc__ = f"Extract records from {_KINDS[kind]}."
    if kind in ("image", "auto"):
        return extract.command(name=kind)(_options(_transport_options(command)))
    return extract.command(name=kind)(_options(command))


for _kind in _KINDS:
    _make(_kind)

COMMANDS: dict[str, click.Command] = {"extract": extract}
