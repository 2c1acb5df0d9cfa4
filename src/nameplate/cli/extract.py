"""``nameplate extract KIND TARGET``: one record per root, validated, written all-or-nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._options import Destination, ReferenceType, output_option, registry_options

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


def _options(func: Callable[..., Any], *, reference: bool) -> Callable[..., Any]:
    target = ReferenceType(path_ok=True) if reference else click.STRING
    decorators = [
        click.argument("target", type=target),
        output_option(
            "the records",
            file="one record",
            folder="a file each: <name>-<version>[-<hash>].nameplate.json",
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


def _run(
    kind: str, target: str, output: Destination, transport: Transport | None, **kw: Any
) -> None:
    from .. import schema, sources
    from ..errors import InternalError, RecordValidationError
    from ..sources import ExtractOptions
    from ._output import emit_records, on_terminal, progress

    with progress(None, f"reading {Path(target).name or target}") as bar:
        options = ExtractOptions(
            roots=tuple(kw["roots"]),
            combined=bool(kw["combined"]),
            verify_signatures=bool(kw["verify_signatures"]),
            public_keys=tuple(kw["public_keys"]),
            platform=kw["platform"],
            include_files=not kw["no_files"],
            progress=on_terminal(),
            transport=transport,
            on_progress=None if bar is None else bar.update,
        )
        records = sources.extract_all(
            target, kind=None if kind == "auto" else kind, options=options
        )
    docs = []
    with progress(len(records), f"validating {len(records)} records") as bar:
        for record in records:  # validate everything before writing anything
            docs.append(record.to_dict())
            try:
                schema.validate(docs[-1], where=target)
            except RecordValidationError as exc:
                raise InternalError(
                    f"internal error: {exc} (a reader let through a value it should have "
                    "refused; please report it with the input)"
                ) from exc
            if bar is not None:
                bar(1)
    emit_records(output, records, docs)


@click.group()
def extract() -> None:
    """Extract build records from Spack, EasyBuild, images or binaries.

    Each root found gives one record (use --combined for one record over all
    roots). Records are validated before anything is written; with -o, files
    appear whole or not at all.
    """


def _make(kind: str) -> click.Command:
    def command(target: str, output: Destination, **kw: Any) -> None:
        _run(kind, target, output, kw.pop("transport", None), **kw)

    command.__doc__ = f"Extract records from {_KINDS[kind]}."
    if kind in ("image", "auto"):
        return extract.command(name=kind)(_options(registry_options(command), reference=True))
    return extract.command(name=kind)(_options(command, reference=False))


for _kind in _KINDS:
    _make(_kind)

COMMANDS: dict[str, click.Command] = {"extract": extract}
