"""``attach``, ``discover``, ``pull``, ``push``, ``copy``, ``reindex``: thin commands over
:mod:`nameplate.oci`."""

from __future__ import annotations

import inspect
import json
from typing import TYPE_CHECKING, Any

import click

from ._options import REF, Destination, format_option, output_option, registry_options

if TYPE_CHECKING:
    from ..oci import Transport

__all__ = ["COMMANDS"]

_REFS = (
    "REF is oci:PATH[:NAME] (an OCI layout folder), HOST[:PORT]/REPO[:TAG|@DIGEST] (a "
    "registry), or NAME[:TAG] (the default store, $NAMEPLATE_STORE or "
    "~/.local/share/nameplate/store)."
)

_platform = click.option(
    "--platform",
    metavar="OS/ARCH[/VARIANT]",
    help="Manifest of an index to use (default: this host).",
)


def _print(fmt: str, text: str, data: dict[str, Any]) -> None:
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        from .._terminal import printable

        click.echo(printable(text))


@click.command("attach")
@click.argument(
    "record_file", metavar="RECORD", type=click.Path(exists=True, dir_okay=False, allow_dash=True)
)
@click.option("--to", "ref", required=True, type=REF, metavar="REF", help="What to attach to.")
@click.option(
    "--export",
    "exports",
    multiple=True,
    metavar="FORMAT",
    help="Also attach this export (cyclonedx-json, spdx-2.3, ...); repeatable.",
)
@click.option("--compat", is_flag=True, help="OCI 1.0 form: the type in the config media type.")
@click.option("--force", is_flag=True, help="Attach even if the record describes another image.")
@_platform
@registry_options
@format_option()
def attach(
    *,
    record_file: str,
    ref: str,
    exports: tuple[str, ...],
    compat: bool,
    force: bool,
    platform: str | None,
    transport: Transport | None,
    fmt: str,
) -> None:
    """Attach a RECORD file (- for standard input) to the image or artifact REF as an
    OCI 1.1 referrer.

    An image index resolves to its manifest for --platform. A record of an image
    whose digest is not REF's is refused (exit 3) unless --force. Prints the
    artifact's digest.
    """
    from .. import oci
    from ._output import load_record

    if record_file == "-" and transport is not None and transport.credentials is not None:
        raise click.UsageError("RECORD - and --password-stdin both read standard input")
    record = load_record(record_file)
    desc = oci.attach(
        record,
        ref,
        exports=exports,
        compat=compat,
        force=force,
        platform=platform,
        transport=transport,
    )
    _print(fmt, desc.digest, desc.to_dict())


attach.help = inspect.cleandoc(attach.help or "") + "\n\n" + _REFS


@click.command("discover")
@click.argument("ref", metavar="REF", type=REF)
@click.option("--type", "artifact_type", metavar="MEDIA_TYPE", help="Only this artifact type.")
@_platform
@registry_options
@format_option()
@output_option("the list")
def discover(
    *,
    ref: str,
    artifact_type: str | None,
    platform: str | None,
    transport: Transport | None,
    fmt: str,
    output: Destination,
) -> None:
    """List the records, SBOMs and other artifacts attached to REF, oldest first."""
    from .. import oci
    from .._terminal import printable
    from ._output import emit

    found = oci.discover(ref, artifact_type=artifact_type, platform=platform, transport=transport)
    if fmt == "json":
        text = json.dumps([d.to_dict() for d in found], indent=2, sort_keys=True)
        emit(output, text + "\n")
        return
    rows = [("DIGEST", "ARTIFACT TYPE", "CREATED", "CPU TARGET")]
    for d in found:
        rows.append(
            (
                printable(d.digest),
                printable(d.artifact_type or "-"),
                printable(d.created or "-"),
                printable(d.annotations.get("dev.nameplate.cpu.target", "-")),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, [*widths, 0], strict=True)).rstrip() for r in rows
    ]
    emit(output, "".join(line + "\n" for line in lines))


discover.help = inspect.cleandoc(discover.help or "") + "\n\n" + _REFS


@click.command("pull")
@click.argument("ref", metavar="REF", type=REF)
@output_option("the record", folder="<name>-<version>.nameplate.json")
@click.option("--digest", metavar="DIGEST", help="This record artifact, not the newest.")
@_platform
@registry_options
def pull(
    *,
    ref: str,
    output: Destination,
    digest: str | None,
    platform: str | None,
    transport: Transport | None,
) -> None:
    """Pull the newest record attached to REF (by its created time), byte for byte."""
    from .. import oci
    from .._filenames import RECORD_SUFFIX, record_stem
    from ..oci.artifacts import record_from_bytes
    from ._output import emit, note

    _, data = oci.pull_bytes(ref, digest=digest, platform=platform, transport=transport)
    record = record_from_bytes(data, where=f"{ref}: record")
    written = emit(output, data, name=record_stem(record) + RECORD_SUFFIX)
    if written is not None and output.folder:
        note(f"wrote {written}")


pull.help = inspect.cleandoc(pull.help or "") + "\n\n" + _REFS


@click.command("push")
@click.argument("path", metavar="PATH", type=click.Path(exists=True))
@click.option("--to", "ref", required=True, type=REF, metavar="REF", help="Tag to push to.")
@registry_options
@format_option()
def push(*, path: str, ref: str, transport: Transport | None, fmt: str) -> None:
    """Push a file or folder (a Spack prefix, an EasyBuild install, a binary) as an OCI
    artifact, so records can attach to it. Streams; prints the manifest digest."""
    from .. import oci

    desc = oci.push(path, ref, transport=transport)
    _print(fmt, desc.digest, desc.to_dict())


push.help = inspect.cleandoc(push.help or "") + "\n\n" + _REFS


@click.command("copy")
@click.argument("src", metavar="SRC", type=REF)
@click.argument("dst", metavar="DST", type=REF)
@registry_options
@format_option()
def copy(*, src: str, dst: str, transport: Transport | None, fmt: str) -> None:
    """Copy the image or artifact SRC to DST with everything attached to it (the referrers of
    the image and of each platform manifest), keeping every digest."""
    from .. import oci

    count = oci.copy(src, dst, transport=transport)
    _print(fmt, f"copied {count} manifests", {"copied": count, "source": src, "destination": dst})


copy.help = inspect.cleandoc(copy.help or "") + "\n\n" + _REFS


@click.command("reindex")
@click.argument("ref", metavar="REF", type=REF)
@_platform
@registry_options
@format_option()
def reindex(*, ref: str, platform: str | None, transport: Transport | None, fmt: str) -> None:
    """Rebuild the referrers fallback index of REF (a registry without the referrers API),
    or the referrer entries of a layout's index.json. Prints how many referrers it lists."""
    from .. import oci

    count = oci.reindex(ref, platform=platform, transport=transport)
    _print(fmt, f"{count} referrers", {"referrers": count, "ref": ref})


reindex.help = inspect.cleandoc(reindex.help or "") + "\n\n" + _REFS

COMMANDS: dict[str, click.Command] = {
    "attach": attach,
    "discover": discover,
    "pull": pull,
    "push": push,
    "copy": copy,
    "reindex": reindex,
}
