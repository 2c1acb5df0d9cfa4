"""Where output goes: ``-o FILE``, ``-o DIR/``, ``-o -``, and the names of files in a folder.

Names come from untrusted data; they must stay inside the folder, be unique within one run and
read as the tools that own the names write them: ``spack find -l`` for Spack
(``<name>-<version>-<hash7>``) and EasyBuild's own ``det_full_ec_version`` for EasyBuild.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nameplate.cli import cli
from nameplate.record import Record
from tests.conftest import DATA, ROOT, SHARED, need

EXAMPLE = ROOT / "examples/records/spack-hdf5-openmpi-icelake.json"
STORE = DATA / "spack/spack1.3-fake-store/opt/spack"
LOCK = DATA / "spack/spack1.3-fake-store/env/spack.lock"
ECS = DATA / "easybuild/easyconfigs"
EB_INSTALL = DATA / "easybuild/install"
H200 = str(DATA / "hosts/linux-h200-icelake.host.json")
SBOM = DATA / "sbom/trivy-centos7.cdx.json"
REAL_STORE = SHARED / "fixtures/spack/real-store"


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), prog_name="nameplate", input=stdin)
    return result.exit_code, result.stdout, result.stderr


def files(folder: Path) -> set[str]:
    """Every path under ``folder``, relative (a file written outside would not be listed)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# -- names of files written to a folder ------------------------------------------------------


def _easybuild_names(easyconfigs: list[Path]) -> set[str]:
    """The names EasyBuild gives: an easyconfig file is <name>-<det_full_ec_version>.eb (the
    easyconfigs repository's own test suite holds its files to it, and eb names the copy it
    keeps in an install so); where the easyconfig has no template, EasyBuild's own parser and
    ``det_full_ec_version`` say the same."""
    from easybuild.framework.easyconfig.parser import EasyConfigParser
    from easybuild.tools.module_naming_scheme.utilities import det_full_ec_version

    out = set()
    for path in easyconfigs:
        ec = EasyConfigParser(str(path)).get_config_dict()
        full = det_full_ec_version(ec)
        if "%(" not in full:
            assert path.name == f"{ec['name']}-{full}.eb", path
        out.add(f"{path.stem}.nameplate.json")
    return out


def test_easyconfigs_are_named_as_easybuild_names_them(tmp_path: Path) -> None:
    out = tmp_path / "recs"
    code, _, err = run("extract", "easybuild", str(ECS), "-o", f"{out}/")
    assert code == 0, err
    easyconfigs = sorted(ECS.glob("*.eb"))
    assert files(out) == _easybuild_names(easyconfigs)
    assert "PyTorch-2.9.1-foss-2025a-CUDA-12.8.0.nameplate.json" in files(out)
    assert f"wrote {len(easyconfigs)} records to {out}/" in err


def test_an_easybuild_install_is_named_as_its_module(tmp_path: Path) -> None:
    out = tmp_path / "recs"
    code, _, err = run("extract", "easybuild", str(EB_INSTALL), "-o", f"{out}/")
    assert code == 0, err
    easyconfigs = sorted(EB_INSTALL.glob("software/*/*/easybuild/*.eb"))
    assert "tinyhello-1.0-GCCcore-12.2.0.nameplate.json" in files(out)
    assert files(out) == _easybuild_names(easyconfigs)


def test_spack_records_are_named_as_spack_find_l_shows_them(tmp_path: Path) -> None:
    """``spack find --json`` of a real store (Spack 1.3) is the truth for names and hashes."""
    need(REAL_STORE.is_dir(), "shared fixture real-store missing")
    out = tmp_path / "recs"
    code, _, err = run("extract", "spack", str(REAL_STORE / "opt/spack"), "-o", f"{out}/")
    assert code == 0, err
    found = json.loads((REAL_STORE / "spack-find.json").read_text())
    db = json.loads((REAL_STORE / "opt/spack/.spack-db/index.json").read_text())
    explicit = {h for h, rec in db["database"]["installs"].items() if rec.get("explicit")}
    wanted = {
        f"{s['name']}-{s['version']}-{s['hash'][:7]}.nameplate.json"
        for s in found
        if s["hash"] in explicit
    }
    assert files(out) == wanted
    assert "zstd-1.5.4-kiaxfa2.nameplate.json" in wanted


def test_a_hostile_lockfile_root_hash_stays_in_the_folder(tmp_path: Path) -> None:
    lock = json.loads(LOCK.read_text())
    root = lock["roots"][0]["hash"]
    hostile = tmp_path / "env" / "spack.lock"
    hostile.parent.mkdir()
    hostile.write_text(LOCK.read_text().replace(root, "/../../"))
    out = tmp_path / "env" / "recs"
    code, _, err = run("extract", "spack", str(hostile), "-o", str(out))
    assert code == 0, err
    assert files(tmp_path) - {"env", "env/spack.lock", "env/recs"} == {
        f"env/recs/{name}" for name in files(out)
    }
    assert len(files(out)) == len(lock["roots"])
    assert all("/" not in name and not name.startswith(".") for name in files(out))


def _easyconfig(folder: Path, name: str, version: str = "2.11.5", **extra: str) -> Path:
    path = folder / f"{name.strip('/.') or 'x'}-{version}.eb"
    lines = [
        "easyblock = 'ConfigureMake'",
        f"name = {name!r}",
        f"version = {version!r}",
        "homepage = 'https://example.org'",
        "description = 'test'",
        "toolchain = {'name': 'GCCcore', 'version': '12.2.0'}",
        *(f"{k} = {v!r}" for k, v in extra.items()),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_hostile_easyconfig_name_stays_in_the_folder(tmp_path: Path) -> None:
    ecs = tmp_path / "work" / "ecs"
    ecs.mkdir(parents=True)
    _easyconfig(ecs, "/../../")
    _easyconfig(ecs, "fine")
    out = tmp_path / "work" / "recs"
    code, _, err = run("extract", "easybuild", str(ecs), "-o", str(out))
    assert code == 0, err
    names = files(out)
    assert len(names) == 2 and "fine-2.11.5-GCCcore-12.2.0.nameplate.json" in names
    assert files(tmp_path / "work") == {"ecs", "recs"} | {
        f"ecs/{p.name}" for p in ecs.iterdir()
    } | {f"recs/{n}" for n in names}


def test_same_version_different_names_are_two_files(tmp_path: Path) -> None:
    ecs = tmp_path / "ecs"
    ecs.mkdir()
    _easyconfig(ecs, "libxml2")
    _easyconfig(ecs, "libxml2-python")
    out = tmp_path / "recs"
    code, _, err = run("extract", "easybuild", str(ecs), "-o", f"{out}/")
    assert code == 0, err
    assert files(out) == {
        "libxml2-2.11.5-GCCcore-12.2.0.nameplate.json",
        "libxml2-python-2.11.5-GCCcore-12.2.0.nameplate.json",
    }
    assert "wrote 2 records" in err


def test_names_are_unique_within_one_run(tmp_path: Path) -> None:
    """Two installs that read the same (an easyconfig and its copy with another suffix case)
    never overwrite each other: the second gets -2, on a case-insensitive file system too."""
    from nameplate._filenames import unique

    assert unique(["a-1", "a-1", "A-1", "a-1-2"]) == [
        "a-1.nameplate.json",
        "a-1-2.nameplate.json",
        "A-1-3.nameplate.json",
        "a-1-2-2.nameplate.json",
    ]
    ecs = tmp_path / "ecs"
    ecs.mkdir()
    _easyconfig(ecs, "Foo", versionsuffix="-X")
    _easyconfig(ecs, "foo", versionsuffix="-x")
    out = tmp_path / "recs"
    code, _, err = run("extract", "easybuild", str(ecs), "-o", f"{out}/")
    assert code == 0, err
    assert {n.lower() for n in files(out)} == {
        "foo-2.11.5-gcccore-12.2.0-x.nameplate.json",
        "foo-2.11.5-gcccore-12.2.0-x-2.nameplate.json",
    }


# -- -o DIR/ and -o - -----------------------------------------------------------------------


def test_trailing_slash_is_a_folder_for_one_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run("extract", "spack", str(STORE), "--root", "zlib-ng", "-o", "out/")
    assert code == 0, err
    assert (tmp_path / "out").is_dir()
    (name,) = files(tmp_path / "out")
    assert name.startswith("zlib-ng-2.3.3-") and name.endswith(".nameplate.json")
    code, _, err = run("export", str(EXAMPLE), "-f", "spdx", "-o", "exports/")
    assert code == 0, err
    assert files(tmp_path / "exports") == {"hdf5-1.14.6-ijgf36w.spdx.json"}
    code, _, err = run("merge", str(EXAMPLE), str(SBOM), "-o", "merged/")
    assert code == 0, err
    assert files(tmp_path / "merged") == {"hdf5-1.14.6-ijgf36w.nameplate.json"}


def test_a_report_into_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    for args in (["show", str(EXAMPLE)], ["check", str(EXAMPLE), "--host", H200]):
        code, out, err = run(*args, "-o", f"{tmp_path}/reports/")
        assert code == 2, (args, err)
        assert "a folder, and this command writes one file" in err
        assert not (tmp_path / "reports").exists() and out == ""


@pytest.fixture
def catalog(tmp_path: Path) -> str:
    db = str(tmp_path / "cat.db")
    code, _, err = run("index", str(EXAMPLE), "--catalog", db)
    assert code == 0, err
    return db


@pytest.fixture
def layout(tmp_path: Path) -> str:
    ref = f"oci:{tmp_path / 'layout'}:saxpy"
    assert run("push", str(DATA / "elf/libsaxpy_a.so"), "--to", ref)[0] == 0
    assert run("attach", str(EXAMPLE), "--to", ref)[0] == 0
    return ref


def test_dash_is_standard_output_in_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog: str, layout: str
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    commands = {
        "extract": ["extract", "spack", str(STORE), "--root", "zlib-ng"],
        "validate": ["validate", str(EXAMPLE)],
        "show": ["show", str(EXAMPLE)],
        "export": ["export", str(EXAMPLE)],
        "merge": ["merge", str(EXAMPLE), str(SBOM)],
        "sparql": ["sparql", "SELECT ?s WHERE { ?s a np:Component } LIMIT 1", str(EXAMPLE)],
        "host": ["host", "-f", "json"],
        "check": ["check", str(EXAMPLE), "--host", H200],
        "query": ["query", "hdf5", "--catalog", catalog],
        "discover": ["discover", layout],
        "pull": ["pull", layout],
        "select": ["select", layout.rsplit(":", 1)[0], "--host", H200],
    }
    for name, args in commands.items():
        code, out, err = run(*args, "-o", "-")
        assert code in (0, 1), (name, err)
        assert out.strip(), name
    assert files(cwd) == set()  # no file named "-"
    code, out, _ = run("pull", layout, "-o", "-")
    assert out == Record.load(EXAMPLE).to_json()  # byte for byte what attach sent


def test_dash_is_standard_input_for_a_record() -> None:
    text = EXAMPLE.read_text()
    for args in (["show"], ["validate"], ["export", "-f", "spdx"], ["check", "--host", H200]):
        code, out, err = run(*args, "-", stdin=text)
        assert code in (0, 1), (args, err)
        assert out, args
    code, _, err = run("show", "-", stdin="{")
    assert code == 3 and err.startswith("error: standard input: not valid JSON")
