"""``attach``, ``discover``, ``pull``, ``push``, ``copy``, ``reindex``: thin commands over
:mod:`nameplate.oci`."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import oci
from .._io import atomic_write, load_record

__all__ = ["COMMANDS"]

F = TypeVar("F", bound=Callable[..., Any])

_REFS = (
    "REF is oci:PATH[:NAME] (an OCI layout folder), HOST[:PORT]/REPO[:TAG|@DIGEST] (a "
    "registry), or NAME[:TAG] (the default store, $NAMEPLATE_STORE or "
    "~/.local/share/nameplate/store)."
)


def _transport_options(func: F) -> F:
    func = click.option(
        "--ca-file",
        type=click.Path(exists=True, dir_okay=False),
        help="Extra CA bundle (PEM) to trust for registry TLS.",
    )(func)
    func = click.option(
        "--plain-http", is_flag=True, help="Talk plain HTTP to the registry (never the default)."
    )(func)
    return func


def _transport(plain_http: bool, ca_file: str | None) -> oci.Transport:
    base = oci.Transport()
    return oci.Transport(
        plain_http=True if plain_http else base.plain_http,
        ca_file=ca_file or base.ca_file,
    )


_platform = click.option(
    "--platform",
    metavar="OS/ARCH[/VARIANT]",
    help="Manifest of an index to use (default: this host).",
)


@click.command("attach")
@click.argument(
    "record_file", metavar="RECORD", required=False, type=click.Path(exists=True, dir_okay=False)
)
@click.option("--to", "ref", metavar="REF", help="Image or artifact to attach to.")
@click.option(
    "--spack-cache",
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
@_platform
@_transport_options
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
    platform: str | None,
    plain_http: bool,
    ca_file: str | None,
) -> None:
    """Attach a RECORD file to the image or artifact REF as an OCI 1.1 referrer.

    An image index resolves to its manifest for --platform. Prints the artifact's digest.
    With --sign, an in-toto statement (subject: REF's digest; predicate: the record) signed
    in a DSSE envelope is attached too, as cosign attest would; a key that cannot sign
    pushes nothing.

    With --spack-cache REPO, each <name>-<version>-<hash>.spack image of a build cache that
    spack buildcache push wrote gets the record of the spec in its config (signed with
    --sign); an image that has its record already gets nothing (or only the signature).
    """
    transport = _transport(plain_http, ca_file)
    formats = ("bundle", "att") if signature_format == "both" else (signature_format,)
    signer = None
    if sign_key is not None:
        from ..sign import load_signer

        signer = load_signer(sign_key)
    if spack_cache is not None:
        if record_file is not None or ref is not None or compat or platform:
            raise click.UsageError("--spack-cache takes no RECORD, --to, --compat or --platform")
        _attach_cache(
            spack_cache,
            signer=signer,
            formats=formats,
            tags=tags,
            exports=exports,
            transport=transport,
        )
        return
    if record_file is None or ref is None:
        raise click.UsageError("give RECORD and --to REF (or --spack-cache REPO)")
    if tags:
        raise click.UsageError("--tag applies to --spack-cache only")
    record = load_record(record_file)
    if signer is None:
        desc = oci.attach(
            record, ref, exports=exports, compat=compat, platform=platform, transport=transport
        )
        click.echo(desc.digest)
        return
    desc, signatures = oci.attach_signed(
        record,
        ref,
        signer=signer,
        formats=formats,
        exports=exports,
        compat=compat,
        platform=platform,
        transport=transport,
    )
    click.echo(desc.digest)
    for sig in signatures:
        tag = sig.annotations.get("org.opencontainers.image.ref.name")
        where = f"a layer of cosign's tag {tag}" if tag else "sigstore bundle"
        click.echo(f"signed: {sig.digest} ({where})", err=True)


def _attach_cache(
    repo: str,
    *,
    signer: Any,
    formats: tuple[str, ...],
    tags: tuple[str, ...],
    exports: tuple[str, ...],
    transport: oci.Transport,
) -> None:
    from ..spack_cache import attach_cache

    result = attach_cache(
        repo, signer=signer, formats=formats, tags=tags, exports=exports, transport=transport
    )
    for image in result.images:
        about = f" ({image.spec})" if image.spec else ""
        detail = f": {image.reason}" if image.reason else ""
        pushed = f", {len(image.pushed)} artifacts pushed" if image.pushed else ""
        click.echo(f"{image.action:<8} {image.tag}{about}{detail}{pushed}")
    n = sum(1 for i in result.images if i.action != "skipped")
    click.echo(
        f"{n} spec images: {result.count('attached')} records attached, "
        f"{result.count('signed')} signed, {result.count('present')} already present"
    )


attach.help = inspect.cleandoc(attach.help or "") + "\n\n" + _REFS


@click.command("discover")
@click.argument("ref", metavar="REF")
@click.option("--type", "artifact_type", metavar="MEDIA_TYPE", help="Only this artifact type.")
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@_platform
@_transport_options
def discover(
    *,
    ref: str,
    artifact_type: str | None,
    fmt: str,
    platform: str | None,
    plain_http: bool,
    ca_file: str | None,
) -> None:
    """List the records, SBOMs and other artifacts attached to REF, oldest first."""
    found = oci.discover(
        ref,
        artifact_type=artifact_type,
        platform=platform,
        transport=_transport(plain_http, ca_file),
    )
    if fmt == "json":
        click.echo(json.dumps([d.to_dict() for d in found], indent=2, sort_keys=True))
        return
    rows = [("DIGEST", "ARTIFACT TYPE", "CREATED", "CPU TARGET")]
    for d in found:
        rows.append(
            (
                d.digest,
                d.artifact_type or "-",
                d.created or "-",
                d.annotations.get("dev.nameplate.cpu.target", "-"),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, [*widths, 0], strict=True)).rstrip())


discover.help = inspect.cleandoc(discover.help or "") + "\n\n" + _REFS


@click.command("pull")
@click.argument("ref", metavar="REF")
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the record here (default: standard output).",
)
@click.option("--digest", metavar="DIGEST", help="This record artifact, not the newest.")
@_platform
@_transport_options
def pull(
    *,
    ref: str,
    output: Path | None,
    digest: str | None,
    platform: str | None,
    plain_http: bool,
    ca_file: str | None,
) -> None:
    """Pull the newest record attached to REF (by its created time), byte for byte."""
    from ..oci.artifacts import record_from_bytes

    _, data = oci.pull_bytes(
        ref, digest=digest, platform=platform, transport=_transport(plain_http, ca_file)
    )
    record_from_bytes(data, where=f"{ref}: record")
    if output is None:
        click.echo(data.decode(), nl=False)
    else:
        atomic_write(output, data)


pull.help = inspect.cleandoc(pull.help or "") + "\n\n" + _REFS


@click.command("push")
@click.argument("path", metavar="PATH", type=click.Path(exists=True))
@click.option("--to", "ref", required=True, metavar="REF", help="Tag to push to.")
@_transport_options
def push(*, path: str, ref: str, plain_http: bool, ca_file: str | None) -> None:
    """Push a file or folder (a Spack prefix, an EasyBuild install, a binary) as an OCI
    artifact, so records can attach to it. Streams; prints the manifest digest."""
    desc = oci.push(path, ref, transport=_transport(plain_http, ca_file))
    click.echo(desc.digest)


push.help = inspect.cleandoc(push.help or "") + "\n\n" + _REFS


@click.command("copy")
@click.argument("src", metavar="SRC")
@click.argument("dst", metavar="DST")
@_transport_options
def copy(*, src: str, dst: str, plain_http: bool, ca_file: str | None) -> None:
    """Copy the image or artifact SRC to DST with everything attached to it (the referrers of
    the image and of each platform manifest), keeping every digest."""
    count = oci.copy(src, dst, transport=_transport(plain_http, ca_file))
    click.echo(f"copied {count} manifests")


copy.help = inspect.cleandoc(copy.help or "") + "\n\n" + _REFS


@click.command("reindex")
@click.argument("ref", metavar="REF")
@_platform
@_transport_options
def reindex(*, ref: str, platform: str | None, plain_http: bool, ca_file: str | None) -> None:
    """Rebuild the referrers fallback index of REF (a registry without the referrers API),
    or the referrer entries of a layout's index.json. Prints how many referrers it lists."""
    count = oci.reindex(ref, platform=platform, transport=_transport(plain_http, ca_file))
    click.echo(f"{count} referrers")


reindex.help = inspect.cleandoc(reindex.help or "") + "\n\n" + _REFS

COMMANDS: dict[str, click.Command] = {
    "attach": attach,
    "discover": discover,
    "pull": pull,
    "push": push,
    "copy": copy,
    "reindex": reindex,
}
