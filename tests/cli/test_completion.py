"""Shell completion, loaded by the real shells, and the man pages, read by groff."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nameplate.cli import cli
from nameplate.cli.manpage import pages
from tests.conftest import ROOT, need

BIN = Path(sys.executable).parent
ENV = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def shell(name: str, script: str) -> str:
    program = shutil.which(name)
    need(program is not None, f"{name} not installed (scripts/apt.d/cli.txt)")
    need((BIN / "nameplate").exists(), "the nameplate console script is not installed")
    result = subprocess.run(
        [str(program), "-c", script],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_bash_completes_commands_and_formats() -> None:
    load = 'eval "$(nameplate completion bash)"; '
    words = "COMP_WORDS=(nameplate sh); COMP_CWORD=1; _nameplate_completion nameplate; "
    out = shell("bash", load + words + 'printf "%s\\n" "${COMPREPLY[@]}"')
    assert out.split() == ["show"]
    words = "COMP_WORDS=(nameplate export r.json -f spdx); COMP_CWORD=4; _nameplate_completion nameplate; "
    out = shell("bash", load + words + 'printf "%s\\n" "${COMPREPLY[@]}"')
    assert {"spdx-2.3", "spdx-3.0.1"} <= set(out.split())
    assert "complete -o nosort -F _nameplate_completion nameplate" in shell(
        "bash", "nameplate completion bash"
    )


def test_fish_completes_subcommands_and_choices() -> None:
    out = shell("fish", 'nameplate completion fish | source; complete -C "nameplate extract sp"')
    assert out.split("\t")[0] == "spack"
    out = shell(
        "fish",
        'nameplate completion fish | source; complete -C "nameplate show r.json --deptypes "',
    )
    assert {"all", "link"} <= set(out.split())  # (click's fish script splits values at commas)


def test_zsh_loads_the_script_and_its_callback_answers() -> None:
    out = shell(
        "zsh",
        'autoload -U compinit; compinit -u; eval "$(nameplate completion zsh)"; whence -w _nameplate_completion',
    )
    assert out.strip() == "_nameplate_completion: function"
    script = shell("zsh", "nameplate completion zsh")
    assert "_NAMEPLATE_COMPLETE=zsh_complete" in script
    env = dict(ENV, _NAMEPLATE_COMPLETE="zsh_complete", COMP_WORDS="nameplate que", COMP_CWORD="1")
    answer = subprocess.run(
        [str(BIN / "nameplate")], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert answer.stdout.splitlines()[:2] == ["plain", "query"]


def test_completion_refuses_an_unknown_shell() -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["completion", "tcsh"], prog_name="nameplate")
    assert result.exit_code == 2


MAN = ROOT / "docs" / "man"


def test_man_pages_are_current() -> None:
    wanted = pages(cli)
    have = {p.name: p.read_text() for p in MAN.glob("*.1")}
    assert sorted(have) == sorted(wanted), "run scripts/update-docs"
    for name, text in wanted.items():
        assert have[name] == text, f"docs/man/{name} is stale: run scripts/update-docs"


@pytest.mark.parametrize("page", sorted(MAN.glob("*.1")), ids=lambda p: p.name)
def test_groff_reads_every_man_page_without_a_warning(page: Path) -> None:
    groff = shutil.which("groff")
    need(groff is not None, "groff not installed (scripts/apt.d/cli.txt)")
    result = subprocess.run(
        [str(groff), "-man", "-ww", "-Tutf8", str(page)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "EXIT STATUS" in re.sub(".\x08", "", result.stdout)  # bold is overstruck
