"""The command line against real registries on 127.0.0.1: every tag of a repository for
``select`` and ``index``, the registry options on every command that takes a reference, and the
plain-HTTP hint wherever a TLS handshake fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nameplate import sources
from nameplate.cli import cli
from nameplate.sources import ExtractOptions
from tests.conftest import DATA, FIXED_TIME

from . import registries as regs
from .conftest import push_image

STORE = DATA / "spack/spack1.3-fake-store/opt/spack"
H200 = str(DATA / "hosts/linux-h200-icelake.host.json")
TAGS = {"hdf5": "1.14.6", "zlib-ng": "zlib-ng", "py-numpy": "py-numpy"}


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="nameplate", input=stdin)


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No transport or credentials from the environment: only what the options say."""
    for var in ("NAMEPLATE_PLAIN_HTTP", "NAMEPLATE_CA_FILE", "NAMEPLATE_REGISTRY_USERNAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)


def _publish(reg: regs.Registry, repo: str, tmp_path: Path) -> dict[str, Path]:
    """Three tags (1.14.6, zlib-ng, py-numpy) and no latest, each with the real record of the
    Spack 1.3 store's root it is named after, attached with the command line."""
    records = sources.extract_all(STORE, kind="spack", options=ExtractOptions(clock=FIXED_TIME))
    files = {}
    for record in records:
        tag = TAGS[record.subject.name]
        ref = reg.ref(f"{repo}:{tag}")
        push_image(ref, transport=reg.transport, seed=tag)
        path = tmp_path / f"{tag}.json"
        record.dump(path)
        files[tag] = path
    return files


def _attach(reg: regs.Registry, repo: str, files: dict[str, Path], *options: str) -> None:
    for tag, path in files.items():
        done = run("attach", str(path), "--to", reg.ref(f"{repo}:{tag}"), *options)
        assert done.exit_code == 0, done.output


def test_select_and_index_read_every_tag(
    distribution: regs.Registry, repo: str, tmp_path: Path, no_env: None
) -> None:
    files = _publish(distribution, repo, tmp_path)
    _attach(distribution, repo, files, "--plain-http")
    chosen = run("select", distribution.ref(repo), "--plain-http", "--host", H200, "-f", "json")
    assert chosen.exit_code == 0, chosen.output
    ranked = json.loads(chosen.stdout)
    assert {c["tag"] for c in ranked["candidates"]} == set(TAGS.values())
    assert all(
        c["verdict"] != "unknown" or "no record" not in c["why"] for c in ranked["candidates"]
    )
    assert ranked["best_tag"] in TAGS.values()
    # --tag filters with globs; a glob that matches nothing is one line
    only = run(
        "select",
        distribution.ref(repo),
        "--plain-http",
        "--host",
        H200,
        "--tag",
        "py-*",
        "-f",
        "json",
    )
    assert [c["tag"] for c in json.loads(only.stdout)["candidates"]] == ["py-numpy"]
    none = run("select", distribution.ref(repo), "--plain-http", "--host", H200, "--tag", "9.*")
    assert none.exit_code == 3 and "no tag matching 9.*" in none.stderr
    # index: every tag into the catalog, and a query finds each root
    db = str(tmp_path / "cat.db")
    indexed = run("index", distribution.ref(repo), "--plain-http", "--catalog", db, "-f", "json")
    assert indexed.exit_code == 0, indexed.output
    assert json.loads(indexed.stdout)["indexed"] == 3
    for name in TAGS:
        assert run("query", name, "--catalog", db).exit_code == 0, name
    empty = run("select", distribution.ref(f"{repo}-none"), "--plain-http", "--host", H200)
    assert (
        empty.exit_code == 4
        and "no tags (the repository is empty or does not exist)" in empty.stderr
    )


def test_registry_options_on_check_select_index(
    distribution_tls: regs.Registry, repo: str, tmp_path: Path, no_env: None
) -> None:
    """TLS with a private CA and htpasswd: --ca-file, --username and --password-stdin."""
    reg = distribution_tls
    ca = str(reg.extras["ca"])
    creds = ("--ca-file", ca, "--username", regs.USER, "--password-stdin")
    files = _publish(reg, repo, tmp_path)
    for tag, path in files.items():
        done = run(
            "attach",
            str(path),
            "--to",
            reg.ref(f"{repo}:{tag}"),
            *creds,
            stdin=regs.PASSWORD + "\n",
        )
        assert done.exit_code == 0, done.output
    checked = run("check", reg.ref(f"{repo}:zlib-ng"), "--host", H200, *creds, stdin=regs.PASSWORD)
    assert checked.exit_code in (0, 3), checked.output
    assert "zlib-ng@2.3.3" in checked.stdout
    chosen = run("select", reg.ref(repo), "--host", H200, "-f", "json", *creds, stdin=regs.PASSWORD)
    assert chosen.exit_code == 0, chosen.output
    assert len(json.loads(chosen.stdout)["candidates"]) == 3
    db = str(tmp_path / "cat.db")
    indexed = run("index", reg.ref(repo), "--catalog", db, *creds, stdin=regs.PASSWORD)
    assert indexed.exit_code == 0 and "indexed 3 records" in indexed.stdout, indexed.output
    wrong = run("check", reg.ref(f"{repo}:zlib-ng"), "--host", H200, *creds, stdin="nope")
    assert wrong.exit_code == 4 and "authentication failed for user 'alice'" in wrong.stderr
    assert "nope" not in wrong.output
    half = run("check", reg.ref(f"{repo}:zlib-ng"), "--host", H200, "--username", regs.USER)
    assert half.exit_code == 2 and "--username needs --password-stdin" in half.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["check", "{ref}", "--host", H200],
        ["select", "{repo}", "--host", H200],
        ["index", "{repo}", "--catalog", "{db}"],
        ["discover", "{ref}"],
        ["pull", "{ref}"],
        ["extract", "image", "{ref}"],
    ],
    ids=lambda c: c[0] if c[0] != "extract" else "extract image",
)
def test_the_plain_http_hint_on_every_command(
    distribution: regs.Registry, tmp_path: Path, no_env: None, command: list[str]
) -> None:
    """A TLS handshake with a plain-HTTP registry: one line with the hint, exit 4."""
    values = {
        "ref": distribution.ref("hint/app:v1"),
        "repo": distribution.ref("hint/app"),
        "db": str(tmp_path / "cat.db"),
    }
    result = run(*(part.format(**values) for part in command))
    assert result.exit_code == 4, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "a plain-HTTP registry? use --plain-http" in result.stderr
