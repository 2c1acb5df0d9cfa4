"""Every command has a docs page whose --help blocks equal the real output."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from nameplate.cli import COMMANDS, cli
from tests.conftest import ROOT

PAGES = ROOT / "docs" / "commands"
BLOCK = re.compile(
    r"<!-- @begin-help(?P<args>[^>]*?)-->\s*```text\n(?P<text>.*?)```\s*<!-- @end-help -->", re.S
)


def help_of(args: list[str]) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], prog_name="nameplate", terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def blocks() -> list[tuple[Path, list[str], str]]:
    out = []
    for page in sorted(PAGES.glob("*.md")):
        for m in BLOCK.finditer(page.read_text()):
            args = m["args"].split() or [page.stem]
            out.append((page, args, m["text"].strip()))
    return out


def all_commands() -> list[list[str]]:
    out = []
    for name in COMMANDS:
        out.append([name])
        command = cli.get_command(click.Context(cli), name)
        if isinstance(command, click.Group):
            out += [[name, sub] for sub in command.list_commands(click.Context(command))]
    return out


@pytest.mark.parametrize("args", all_commands(), ids=" ".join)
def test_every_command_has_a_checked_help_block(args: list[str]) -> None:
    documented = [a for _, a, _ in blocks()]
    assert args in documented, f"no help block for `nameplate {' '.join(args)}` in docs/commands/"


@pytest.mark.parametrize(
    ("page", "args", "text"), blocks(), ids=lambda v: str(v) if isinstance(v, list) else ""
)
def test_help_block_is_current(page: Path, args: list[str], text: str) -> None:
    assert text == help_of(args), (
        f"{page.name}: --help of `{' '.join(args)}` changed; update the page"
    )


@pytest.mark.parametrize("page", sorted(PAGES.glob("*.md")), ids=lambda p: p.name)
def test_page_documents_exit_codes(page: Path) -> None:
    assert "exit" in page.read_text().lower(), f"{page.name} does not document its exit codes"


def test_top_level_help_lists_every_command() -> None:
    text = help_of([])
    for name in COMMANDS:
        assert name in text


def test_every_lazy_command_loads() -> None:
    for name in COMMANDS:
        assert cli.get_command(click.Context(cli), name) is not None


def test_the_docs_site_config_lists_every_page() -> None:
    """mkdocs.yml's nav holds every page of docs/ (a page left out is never built)."""
    import yaml

    config = (ROOT / "mkdocs.yml").read_text()
    nav = yaml.safe_load(config.split("\nplugins:")[0])["nav"]

    def pages(items: object) -> list[str]:
        if isinstance(items, str):
            return [items]
        if isinstance(items, list):
            return [p for i in items for p in pages(i)]
        if isinstance(items, dict):
            return [p for v in items.values() for p in pages(v)]
        return []

    listed = set(pages(nav))
    on_disk = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")}
    assert listed == on_disk


def test_a_stale_docstring_reference_fails_the_docs_build(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The griffe extension of the API reference: a role naming an object that exists becomes
    a cross-reference; one naming nothing is a warning (mkdocs --strict then fails)."""
    import griffe

    package = tmp_path / "demo"
    package.mkdir()
    (package / "__init__.py").write_text(
        '"""See :func:`.real`, :class:`~demo.Thing` and :func:`.gone`."""\n\n'
        'def real() -> None:\n    """Real."""\n\n\nclass Thing:\n    """A thing."""\n'
    )
    extensions = griffe.load_extensions(str(ROOT / "scripts/griffe_sphinx_roles.py:SphinxRoles"))
    loader = griffe.GriffeLoader(extensions=extensions, search_paths=[str(tmp_path)])
    with caplog.at_level("WARNING"):
        module = loader.load("demo")
    text = module.docstring.value
    assert '<autoref identifier="demo.real" optional><code>real</code></autoref>' in text
    assert '<autoref identifier="demo.Thing" optional><code>Thing</code></autoref>' in text
    assert "``gone``" in text
    assert any("names .gone, which does not exist" in r.getMessage() for r in caplog.records)
