"""``nameplate easybuild-hooks``: the EasyBuild hooks file, its path or a site's copy."""

from __future__ import annotations

from pathlib import Path

import click

from ._options import Destination, output_option

__all__ = ["COMMANDS", "site_hooks"]


def site_hooks(*, push: str | None, attach: str | None, sign: str | None) -> str:
    """The text of a hooks file that publishes every record as told. The values appear only as
    Python literals (``repr``), in code and in one-line comments: nothing given is ever code."""
    given = {"push": push, "attach": attach, "sign": sign}
    args = ", ".join(f"{k}={v!r}" for k, v in given.items() if v is not None)
    what = (
        f"# and pushes the install to {push!r}, attaching the record to it"
        if push
        else (f"# and attaches the record to {attach!r}" if attach else "# and publishes nothing")
    )
    signed = f"\n# signed with {sign!r}" if sign else ""
    return (
        "# EasyBuild hooks written by `nameplate easybuild-hooks` (eb --hooks=THIS_FILE):\n"
        "# writes <installdir>/easybuild/nameplate.json after every install\n"
        f"{what}{signed}\n\n"
        "from nameplate.easybuild_hooks import configured\n\n"
        f"post_easyblock_hook = configured({args})\n"
    )


@click.command(
    "easybuild-hooks",
    epilog="Example: eb --hooks=$(nameplate easybuild-hooks) foo-1.0.eb --robot",
)
@click.option(
    "--push",
    metavar="REF",
    help="Push each install folder to REF (a template: {repo}, {tag}, {name}, {version}, "
    "{versionsuffix}, {toolchain}, {module}) and attach its record there.",
)
@click.option(
    "--attach", metavar="REF", help="Attach each record to REF (a template), which exists."
)
@click.option("--sign", metavar="KEY", help="Sign each record: a PEM private key or gpg:KEYID.")
@output_option("the site hooks file", folder="nameplate_hooks.py")
def easybuild_hooks(
    *, push: str | None, attach: str | None, sign: str | None, output: Destination
) -> None:
    """Print the path of the EasyBuild hooks file shipped with nameplate, or write a site's.

    Pass it to EasyBuild (eb --hooks=PATH, EASYBUILD_HOOKS=PATH, or hooks = PATH in an
    EasyBuild configuration file): at the end of every install it writes
    <installdir>/easybuild/nameplate.json and, when configured, publishes the record:
    $NAMEPLATE_EB_PUSH (push the install there, attach to it), $NAMEPLATE_EB_ATTACH (attach to
    an existing reference), $NAMEPLATE_EB_SIGN (sign). With --push, --attach or --sign, a site
    hooks file carrying them is written instead (to -o FILE, or standard output). A failure
    in the hook is a warning, never a failed install.
    """
    if push and attach:
        raise click.UsageError("give --push or --attach, not both")
    if not (push or attach or sign):
        if not output.stdout:
            raise click.UsageError("-o writes a site hooks file: give --push, --attach or --sign")
        from .. import easybuild_hooks as hooks

        click.echo(str(Path(hooks.__file__).resolve()))
        return
    from ._output import emit, note

    written = emit(
        output, site_hooks(push=push, attach=attach, sign=sign), name="nameplate_hooks.py"
    )
    if written is not None:
        note(f"wrote {written}")


COMMANDS: dict[str, click.Command] = {"easybuild-hooks": easybuild_hooks}
