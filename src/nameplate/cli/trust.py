"""``nameplate verify``, and the trusted-key options of ``check``, ``select`` and ``index``."""

from __future__ import annotations

import inspect
import json
from typing import TYPE_CHECKING

import click

from ._options import REF, Destination, format_option, option_group, output_option, registry_options

if TYPE_CHECKING:
    from ..oci import Transport
    from ..sign import TrustedKeys

__all__ = ["COMMANDS", "trust_options"]

_KEY = click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="PUB",
    type=click.Path(dir_okay=False),
    help="Trusted public key: PEM (ECDSA P-256, Ed25519; cosign.pub works) or OpenPGP; repeatable.",
)
_KEYRING = click.option(
    "--keyring",
    "keyrings",
    multiple=True,
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="A file of several trusted keys (PEM blocks or an OpenPGP keyring); repeatable.",
)
_REQUIRE = click.option(
    "--require-signed",
    is_flag=True,
    help="Count only records signed by a trusted key (--key/--keyring; a key implies it): an "
    "unsigned record or an unknown key is unknown, never a pass.",
)


def _build_trusted(
    require_signed: bool, keys: tuple[str, ...], keyrings: tuple[str, ...]
) -> TrustedKeys | None:
    """None when records need no signature; ``--require-signed`` without a key is a usage
    error."""
    if not (require_signed or keys or keyrings):
        return None
    if not (keys or keyrings):
        raise click.UsageError("--require-signed needs the trusted keys: --key PUB or --keyring")
    from ..sign import load_trusted

    return load_trusted([*keys, *keyrings])


#: ``--require-signed``, ``--key``, ``--keyring``, passed to the command as ``trusted``
#: (:class:`nameplate.sign.TrustedKeys`, or None when records need no signature).
trust_options = option_group(
    "trusted", [_REQUIRE, _KEY, _KEYRING], _build_trusted, ["require_signed", "keys", "keyrings"]
)


def _keys_only(keys: tuple[str, ...], keyrings: tuple[str, ...]) -> TrustedKeys:
    if not (keys or keyrings):
        raise click.UsageError("give the trusted keys: --key PUB or --keyring FILE")
    from ..sign import load_trusted

    return load_trusted([*keys, *keyrings])


@click.command("verify")
@click.argument("ref", metavar="REF", type=REF)
@option_group("trusted", [_KEY, _KEYRING], _keys_only, ["keys", "keyrings"])
@click.option("--platform", metavar="OS/ARCH[/VARIANT]", help="Manifest of an index to use.")
@registry_options
@format_option()
@output_option("the answer")
def verify(
    *,
    ref: str,
    trusted: TrustedKeys,
    platform: str | None,
    transport: Transport | None,
    fmt: str,
    output: Destination,
) -> None:
    """Say which records attached to REF are signed by which trusted key.

    Reads the signatures nameplate attach --sign writes, and those cosign attest writes with
    the nameplate predicate type (sigstore bundles and cosign's .att tag). A signature counts
    when a trusted key signed it, its statement is about REF's digest, and its predicate is an
    attached record; every other signature is listed with the reason.

    Exit 0 when at least one record is signed by a trusted key, 1 when none is.
    """
    from .. import oci
    from .._terminal import printable
    from ._output import emit

    result = oci.verify(ref, trusted, platform=platform, transport=transport)
    if fmt == "json":
        emit(output, json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n")
    else:
        lines = [f"{result.ref} ({result.subject})"]
        for r in result.records:
            created = r.descriptor.created or "no date"
            if r.signers:
                state = f"signed by {', '.join(r.signers)} [{', '.join(r.via)}]"
            else:
                state = "not signed by a trusted key"
            lines.append(f"  record {r.descriptor.digest} ({created}): {state}")
        lines.extend(f"  refused: {reason}" for _, reason in result.refusals)
        n, total = len(result.trusted), len(result.records)
        lines.append(f"{n} of {total} record{'s' if total != 1 else ''} signed by a trusted key")
        emit(output, "".join(printable(line) + "\n" for line in lines))
    raise SystemExit(0 if result.trusted else 1)


verify.help = (
    inspect.cleandoc(verify.help or "")
    + "\n\nREF is oci:PATH[:NAME] (an OCI layout folder), HOST[:PORT]/REPO[:TAG|@DIGEST] (a "
    "registry), or NAME[:TAG] (the default store)."
)

COMMANDS: dict[str, click.Command] = {"verify": verify}
