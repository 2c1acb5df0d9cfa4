"""Friction points of single commands: query limits, invalid results, the default store on
first use, show in Spack's notation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from nameplate.cli import cli
from tests import imagetools as it
from tests.conftest import DATA, ROOT, SHARED, need

EXAMPLE = ROOT / "examples/records/spack-hdf5-openmpi-icelake.json"
STORE = DATA / "spack/spack1.3-fake-store/opt/spack"
REAL_STORE = SHARED / "fixtures/spack/real-store"


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), prog_name="nameplate", env=env)
    return result.exit_code, result.stdout, result.stderr


def one_line(err: str, *parts: str) -> None:
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for part in parts:
        assert part in err, err


# -- query --limit ------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["1e30", "-1", "0", str(10**30), "ten"])
def test_query_limit_out_of_range_is_a_usage_error(tmp_path: Path, limit: str) -> None:
    db = str(tmp_path / "cat.db")
    assert run("index", str(EXAMPLE), "--catalog", db)[0] == 0
    code, out, err = run("query", "hdf5", "--catalog", db, "--limit", limit)
    assert code == 2, err
    assert "Invalid value for '--limit'" in err and "Traceback" not in err and out == ""


def test_query_limit_keeps_working(tmp_path: Path) -> None:
    db = str(tmp_path / "cat.db")
    assert run("index", str(EXAMPLE), "--catalog", db)[0] == 0
    code, out, _ = run("query", "hdf5", "--catalog", db, "--limit", "1", "-f", "json")
    assert code == 0 and len(json.loads(out)) == 1


# -- a record that breaks the schema after extract or merge -------------------------------------


def test_an_invalid_extracted_record_is_an_internal_error(tmp_path: Path) -> None:
    """An image whose config says ``AMD64`` (upper case): the image reader passes it into
    ``subject.platform``, which the schema refuses. That is a defect of nameplate, exit 3 and
    said so, not the negative answer of exit 1; nothing is written."""
    layout = tmp_path / "img"
    member = it.Member("etc/hostname", data=b"x\n")
    it.write_layout(layout, [it.Image(layers=[it.tar_members([member])], architecture="AMD64")])
    out = tmp_path / "rec.json"
    code, _, err = run("extract", "image", f"oci:{layout}:latest", "-o", str(out))
    assert code in (0, 3), err
    if code == 3:  # the reader still lets the value through: the safety net says which it is
        one_line(err, "internal error", "subject.platform", "please report")
        assert not out.exists()


def test_an_invalid_merged_record_is_an_internal_error(tmp_path: Path) -> None:
    sbom = json.loads((DATA / "sbom/trivy-centos7.spdx.json").read_text())
    for p in sbom["packages"]:
        if any(r.get("referenceType") == "purl" for r in p.get("externalRefs", [])):
            p["name"] = ""  # a hostile SBOM: an OS package without a name
            break
    path = tmp_path / "sbom.spdx.json"
    path.write_text(json.dumps(sbom))
    out = tmp_path / "merged.json"
    code, _, err = run("merge", str(EXAMPLE), str(path), "-o", str(out))
    assert code == 3, err
    assert "Traceback" not in err and not out.exists()
    one_line(err)


# -- the default store on first use ---------------------------------------------------------------


def test_attach_on_a_fresh_machine_says_what_to_run(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "home"), "NAMEPLATE_STORE": ""}
    code, out, err = run("attach", str(EXAMPLE), "--to", "myapp:1.0", env=env)
    assert code == 3, err
    store = tmp_path / "home/.local/share/nameplate/store"
    one_line(err, "myapp:1.0", "default store", str(store), "nameplate push PATH --to myapp:1.0")
    assert "does not exist" not in err and out == ""
    # what the line says to run works, and then the attach does
    binary = DATA / "elf/libsaxpy_a.so"
    code, _, err = run("push", str(binary), "--to", "myapp:1.0", env=env)
    assert code == 0, err
    assert (store / "index.json").is_file()
    code, out, err = run("attach", str(EXAMPLE), "--to", "myapp:1.0", env=env)
    assert code == 0 and out.startswith("sha256:"), err
    code, out, _ = run("discover", "myapp:1.0", "-f", "json", env=env)
    assert code == 0 and len(json.loads(out)) == 1
    # another name of the same store: one line naming what is there
    code, _, err = run("pull", "other:2.0", env=env)
    assert code == 3
    one_line(err, "other:2.0: not in the default store", "myapp:1.0", "nameplate push")


# -- show reads like spack spec / spack find -lv ----------------------------------------------


def test_show_l_reads_as_spack_find_lv(tmp_path: Path) -> None:
    """Every node line of ``show -l --deptypes all`` equals its line in the real
    ``spack find -lv`` of the same store (Spack 1.3), hash and variants alike."""
    need(REAL_STORE.is_dir(), "shared fixture real-store missing")
    rec = tmp_path / "store.json"
    code, _, err = run(
        "extract", "spack", str(REAL_STORE / "opt/spack"), "--combined", "-o", str(rec)
    )
    assert code == 0, err
    code, out, _ = run("show", str(rec), "-l", "--deptypes", "all")
    assert code == 0
    truth = {}
    for line in (REAL_STORE / "spack-find-lv.txt").read_text().splitlines():
        if re.match(r"^[a-z0-9]{7} ", line):
            truth[line[:7]] = line
    shown = {}
    for line in out.splitlines():
        m = re.match(
            r"^\[[blrt ]{4}\]  ([a-z0-9]{7})  +(?:\^(?:\[virtuals=[^\]]*\] )?)?(.*?)( \[external\])?$",
            line,
        )
        if m:
            shown[m[1]] = f"{m[1]} {m[2]}"
    assert shown == truth
    assert len(truth) == 9


def test_show_deptypes_and_depth(tmp_path: Path) -> None:
    rec = tmp_path / "hdf5.json"
    assert run("extract", "spack", str(STORE), "--root", "hdf5", "-o", str(rec))[0] == 0
    code, out, _ = run("show", str(rec))
    assert code == 0
    assert "following link,run edges" in out
    tree = [line for line in out.splitlines() if line.startswith("[")]
    assert (
        tree[0].startswith("[    ]  hdf5@1.14.6") and "+mpi" in tree[0] and "api=default" in tree[0]
    )
    assert not any(line.startswith("[b   ]") for line in tree)  # build-only edges hidden
    code, out, _ = run("show", str(rec), "--deptypes", "all")
    assert any(line.startswith("[b   ]") and "^cmake@" in line for line in out.splitlines())
    code, out, _ = run("show", str(rec), "--depth", "1", "-f", "json")
    lines = json.loads(out)["tree"]
    assert all(not line[8:].startswith("        ") for line in lines)  # one level below the root
    code, _, err = run("show", str(rec), "--deptypes", "link,banana")
    assert code == 2 and "build, link, run, test, or all" in err
    code, _, err = run("show", str(rec), "--depth", "-1")
    assert code == 2


def test_show_of_an_image_summarises_os_packages(tmp_path: Path) -> None:
    status = (DATA / "images/debian12/dpkg-status").read_bytes()
    release = (DATA / "images/debian12/os-release").read_bytes()
    layer = it.tar_members(
        [it.Member("var/lib/dpkg/status", data=status), it.Member("etc/os-release", data=release)]
    )
    layout = tmp_path / "debian"
    it.write_layout(layout, [it.Image(layers=[layer])], tag="12")
    rec = tmp_path / "debian.json"
    code, _, err = run(
        "extract", "image", f"oci:{layout}:12", "--platform", "linux/amd64", "-o", str(rec)
    )
    assert code == 0, err
    code, out, _ = run("show", str(rec))
    assert code == 0
    assert out.startswith(f"image oci:{layout}:12\n")
    packages = sum(1 for line in status.decode().splitlines() if line.startswith("Package: "))
    assert f"OS packages: {packages} deb (Debian GNU/Linux 12 (bookworm))" in out
    assert "adduser@" not in out  # not one arbitrary package as the root
    assert "(no Spack, EasyBuild or binary roots)" in out


def test_show_of_a_binary_names_the_file(tmp_path: Path) -> None:
    rec = tmp_path / "bin.json"
    assert run("extract", "binary", str(DATA / "elf/libsaxpy_a.so"), "-o", str(rec))[0] == 0
    code, out, _ = run("show", str(rec))
    assert code == 0
    assert "[    ]  libsaxpy_a.so\n" in out and "libsaxpy_a.so@" not in out
