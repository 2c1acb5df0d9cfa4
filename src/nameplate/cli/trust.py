"""``nameplate verify``, and the trusted-key options of ``check``, ``select`` and ``index``."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ..sign import TrustedKeys

__all__ = ["COMMANDS", "require_signed_options", "trusted_keys"]

F = TypeVar("F", bound=Callable[..., Any])

_KEY_HELP = (
    "Trusted public key: PEM (ECDSA P-256, Ed25519; cosign.pub works) or OpenPGP; repeatable."
)
_KEYRING_HELP = "A file of several trusted keys (PEM blocks or an OpenPGP keyring); repeatable."


def _key_options(func: F) -> F:
    func = click.option(
        "--keyring",
        "keyrings",
        multiple=True,
        metavar="FILE",
        type=click.Path(dir_okay=False),
        help=_KEYRING_HELP,
    )(func)
    func = click.option(
        "--key",
        "keys",
        multiple=True,
        metavar="PUB",
        type=click.Path(dir_okay=False),
        help=_KEY_HELP,
    )(func)
    return func


def require_signed_options(func: F) -> F:
    """``--require-signed``, ``--key`` and ``--keyring`` (a key implies ``--require-signed``)."""
    func = _key_options(func)
    func = click.option(
        "--require-signed",
        is_flag=True,
        help="Count only records signed by a trusted key (--key/--keyring); an unsigned record "
        "or an unknown key is unknown, never a pass.",
    )(func)
    return func


def trusted_keys(
    require_signed: bool, keys: tuple[str, ...], keyrings: tuple[str, ...]
) -> TrustedKeys | None:
    """The trusted keys of ``--require-signed``/``--key``/``--keyring``, or None when records
    need no signature. ``--require-signed`` without a key is a usage error."""
    if not (require_signed or keys or keyrings):
        return None
    if not (keys or keyrings):
        raise click.UsageError("--require-signed needs the trusted keys: --key PUB or --keyring")
    from ..sign import load_trusted

    return load_trusted([*keys, *keyrings])


@click.command("verify")
@click.argument("ref", metavar="REF")
@_key_options
@click.option("--platform", metavar="OS/ARCH[/VARIANT]", help="Manifest of an index to use.")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="What to print: text for people, json for scripts.",
)
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="Extra CA bundle.")
@click.option("--plain-http", is_flag=True, help="Talk plain HTTP to the registry.")
def verify(
    *,
    ref: str,
    keys: tuple[str, ...],
    keyrings: tuple[str, ...],
    platform: str | None,
    fmt: str,
    ca_file: str | None,
    plain_http: bool,
) -> None:
    """Say which records attached to REF are signed by which trusted key.

    Reads the signatures nameplate attach --sign writes, and those cosign attest writes with
    the nameplate predicate type (sigstore bundles and cosign's .att tag). A signature counts
    when a trusted key signed it, its statement is about REF's digest, and its predicate is an
    attached record; every other signature is listed with the reason.

    Exit 0 when at least one record is signed by a trusted key, 1 when none is.
    """
    from .. import oci
    from ..sign import load_trusted

    if not (keys or keyrings):
        raise click.UsageError("give the trusted keys: --key PUB or --keyring FILE")
    base = oci.Transport()
    transport = oci.Transport(
        plain_http=True if plain_http else base.plain_http, ca_file=ca_file or base.ca_file
    )
    result = oci.verify(
        ref, load_trusted([*keys, *keyrings]), platform=platform, transport=transport
    )
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        click.echo(f"{result.ref} ({result.subject})")
        for r in result.records:
            created = r.descriptor.created or "no date"
            if r.signers:
                state = f"signed by {', '.join(r.signers)} [{', '.join(r.via)}]"
            else:
                state = "not signed by a trusted key"
            click.echo(f"  record {r.descriptor.digest} ({created}): {state}")
        for _, reason in result.refusals:
            click.echo(f"  refused: {reason}")
        n, total = len(result.trusted), len(result.records)
        click.echo(f"{n} of {total} record{'s' if total != 1 else ''} signed by a trusted key")
    raise SystemExit(0 if result.trusted else 1)


verify.help = (
    inspect.cleandoc(verify.help or "")
    + "\n\nREF is oci:PATH[:NAME] (an OCI layout folder), HOST[:PORT]/REPO[:TAG|@DIGEST] (a "
    "registry), or NAME[:TAG] (the default store)."
)

COMMANDS: dict[str, click.Command] = {"verify": verify}
