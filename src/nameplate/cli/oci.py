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
    "record_file",
    metavar="RECORD",
    required=False,
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
)
@click.option("--to", "ref", type=REF, metavar="REF", help="What to attach to.")
@click.option(
    "--spack-cache",
    type=REF,
    metavar="REPO",
    help="Instead of RECORD --to REF: give every spec image of this Spack OCI build cache "
    "(HOST/REPO or oci:PATH) the record of its spec; idempotent.",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="GLOB",
    help="With --spack-cache: only spec tags matching GLOB; repeatable.",
)
@click.option(
    "--export",
    "exports",
    multiple=True,
    metavar="FORMAT",
    help="Also attach this export (cyclonedx-json, spdx-2.3, ...); repeatable.",
)
@click.option("--compat", is_flag=True, help="OCI 1.0 form: the type in the config media type.")
@click.option(
    "--sign",
    "sign_key",
    metavar="KEY",
    help="Also attach the record signed by KEY: a PEM private key (ECDSA P-256 or Ed25519; "
    "password in $NAMEPLATE_KEY_PASSWORD) or gpg:KEYID.",
)
@click.option(
    "--signature-format",
    type=click.Choice(["both", "bundle", "att"]),
    default="both",
    show_default=True,
    help="Where the signature goes: a sigstore bundle referrer (cosign --new-bundle-format), "
    "cosign's sha256-<hex>.att tag, or both.",
)
@click.option("--force", is_flag=True, help="Attach even if the record describes another image.")
@_platform
@registry_options
@format_option()
def attach(
    *,
    record_file: str | None,
    ref: str | None,
    spack_cache: str | None,
    tags: tuple[str, ...],
    exports: tuple[str, ...],
    compat: bool,
    sign_key: str | None,
    signature_format: str,
    force: bool,
    platform: str | None,
    transport: Transport | None,
    fmt: str,
) -> None:
    """Attach a RECORD file (- for standard input) to the image or artifact REF as an
    OCI 1.1 referrer.

    An image index resolves to its manifest for --platform. A record of an image
    whose digest is not REF's is refused (exit 3) unless --force. Prints the
    artifact's digest. With --sign, an in-toto statement (subject: REF's digest;
    predicate: the record) signed in a DSSE envelope is attached too, as cosign
    attest would; a key that cannot sign pushes nothing.

    With --spack-cache REPO, each <name>-<version>-<hash>.spack image of a build cache that
    spack buildcache push wrote gets the record of the spec in its config (signed with
    --sign); an image that has its record already gets nothing (or only the signature).
    """
    from .. import oci
    from ._output import load_record

    formats = ("bundle", "att") if signature_format == "both" else (signature_format,)
    if spack_cache is not None:
        if record_file is not None or ref is not None or compat or platform or force:
            raise click.UsageError(
                "--spack-cache takes no RECORD, --to, --compat, --platform or --force"
            )
        _attach_cache(
            spack_cache,
            sign_key=sign_key,
            formats=formats,
            tags=tags,
            exports=exports,
            transport=transport,
            fmt=fmt,
        )
        return
    if record_file is None or ref is None:
        raise click.UsageError("give RECORD and --to REF (or --spack-cache REPO)")
    if tags:
        raise click.UsageError("--tag applies to --spack-cache only")
    if record_file == "-" and transport is not None and transport.credentials is not None:
        raise click.UsageError("RECORD - and --password-stdin both read standard input")
    signer = None
    if sign_key is not None:
        from ..sign import load_signer

        signer = load_signer(sign_key)  # before the record is read: a bad key reads nothing
    record = load_record(record_file)
    if signer is None:
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
        return
    desc, signatures = oci.attach_signed(
        record,
        ref,
        signer=signer,
        formats=formats,
        exports=exports,
        compat=compat,
        force=force,
        platform=platform,
        transport=transport,
    )
    _print(fmt, desc.digest, {**desc.to_dict(), "signatures": [s.to_dict() for s in signatures]})
    if fmt != "json":
        from .._terminal import printable

        for sig in signatures:
            tag = sig.annotations.get("org.opencontainers.image.ref.name")
            where = f"a layer of cosign's tag {tag}" if tag else "sigstore bundle"
            click.echo(printable(f"signed: {sig.digest} ({where})"), err=True)


def _attach_cache(
    repo: str,
    *,
    sign_key: str | None,
    formats: tuple[str, ...],
    tags: tuple[str, ...],
    exports: tuple[str, ...],
    transport: Transport | None,
    fmt: str,
) -> None:
    from .._terminal import printable
    from ..spack_cache import attach_cache

    signer = None
    if sign_key is not None:
        from ..sign import load_signer

        signer = load_signer(sign_key)
    result = attach_cache(
        repo, signer=signer, formats=formats, tags=tags, exports=exports, transport=transport
    )
    n = sum(1 for i in result.images if i.action != "skipped")
    summary = (
        f"{n} spec images: {result.count('attached')} records attached, "
        f"{result.count('signed')} signed, {result.count('present')} already present"
    )
    if fmt == "json":
        doc = {
            "repository": result.repository,
            "images": [
                {
                    "tag": i.tag,
                    "digest": i.digest,
                    "action": i.action,
                    "spec": i.spec or None,
                    "reason": i.reason or None,
                    "pushed": list(i.pushed),
                }
                for i in result.images
            ],
            "summary": summary,
        }
        click.echo(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False))
        return
    for image in result.images:
        about = f" ({image.spec})" if image.spec else ""
        detail = f": {image.reason}" if image.reason else ""
        pushed = f", {len(image.pushed)} artifacts pushed" if image.pushed else ""
        click.echo(printable(f"{image.action:<8} {image.tag}{about}{detail}{pushed}"))
    click.echo(summary)


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
