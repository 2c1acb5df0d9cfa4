"""The host, check, select, index and query commands, in-process."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from nameplate.cli import cli

from ._gen import record
from ._helpers import HOSTS, RECORDS

HDF5 = str(RECORDS / "spack-hdf5-icelake-openmpi.record.json")
HYPRE = str(RECORDS / "spack-hypre-x86_64_v3-openmpi-cuda12.record.json")
H200 = str(HOSTS / "linux-h200-icelake.host.json")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), prog_name="nameplate")
    return result.exit_code, result.stdout, result.stderr


def test_host_json_validates(tmp_path: Path) -> None:
    out = tmp_path / "h.json"
    code, stdout, _ = run("host", "-f", "json")
    assert code == 0
    code, written, _ = run("host", "-f", "json", "-o", str(out))
    assert code == 0 and written == ""
    # the CPU facts are stable between two probes (the loaded module list is not compared)
    assert json.loads(stdout)["cpu"] == json.loads(out.read_text())["cpu"]
    code, stdout, _ = run("host")
    assert code == 0 and stdout.startswith("cpu ")


def test_check_pass_fail_unknown(tmp_path: Path) -> None:
    icelake = cpu_host_file(tmp_path, "linux-debian12-icelake")
    code, stdout, _ = run("check", HDF5, "--host", str(icelake), "-f", "json")
    assert code == 0, stdout
    assert json.loads(stdout)["verdict"] == "pass"
    # hypre's CUDA code is sm_80 SASS only: it cannot run on the H200 (CC 9.0)
    code, stdout, _ = run("check", HYPRE, "--host", H200, "-f", "json")
    assert code == 1
    assert json.loads(stdout)["why_not"] == [
        "cuda.arch: no code for compute capability 9.0: sm_80 [sass-minor-forward: CUDA C++ "
        "Programming Guide, Compute Capabilities / Binary Compatibility]"
    ]
    zen4 = cpu_host_file(tmp_path, "linux-amazon-neoverse_v1")
    code, stdout, _ = run("check", HDF5, "--host", str(zen4))
    assert code == 1 and "cpu.family" in stdout
    code, stdout, _ = run("check", HDF5, "--host", H200, "--mpi-mode", "mpi_replace")
    assert code == 1 and "mpi.missing" in stdout


def cpu_host_file(tmp_path: Path, name: str) -> Path:
    from nameplate.compat.profile import Host, HostLibc, cpu_from_cpuinfo

    cpu = cpu_from_cpuinfo((HOSTS / f"{name}.cpuinfo").read_text())
    path = tmp_path / f"{name}.json"
    path.write_text(Host(cpu=cpu, libc=HostLibc(family="glibc", version="2.36")).to_json())
    return path


def test_check_bad_inputs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": "1.0.0"}')
    code, _, stderr = run("check", str(bad), "--host", H200)
    assert code == 1 and stderr.startswith("error: ") and str(bad) in stderr
    host = tmp_path / "host.json"
    host.write_text("{")
    code, _, stderr = run("check", HDF5, "--host", str(host))
    assert code == 3 and "host.json: not valid JSON" in stderr
    code, _, stderr = run("check", HDF5, "--host", str(tmp_path / "missing.json"))
    assert code == 3 and "cannot read" in stderr


def test_index_and_query(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    files = []
    for i in range(30):
        f = tmp_path / f"r{i}.json"
        f.write_text(record(i).to_json())
        files.append(str(f))
    code, stdout, _ = run("index", "--catalog", db, HDF5, HYPRE, *files)
    assert code == 0 and "indexed 32 records" in stdout
    code, stdout, _ = run("query", "hdf5@1.14: ^openmpi@5:", "--catalog", db, "-f", "json")
    assert code == 0
    rows = json.loads(stdout)
    assert any(r["subject"] == "hdf5" and r["version"] == "1.14.6" for r in rows)
    code, stdout, _ = run("query", "hdf5 ^openmpi", "--catalog", db, "--compatible-with", H200)
    assert code == 0 and "hdf5@1.14.6 [pass]" in stdout
    code, stdout, _ = run("query", "hypre ^cuda@12:", "--catalog", db)
    assert code == 0 and "hypre@3.1.0" in stdout
    # sm_80-only CUDA code does not run on the H200: filtered out
    code, stdout, _ = run("query", "hypre ^cuda@12:", "--catalog", db, "--compatible-with", H200)
    assert code == 1 and stdout == ""
    code, _, _ = run("query", "nosuch", "--catalog", db)
    assert code == 1
    code, _, stderr = run("query", "hdf5 ^", "--catalog", db)
    assert code == 3 and "query ends with" in stderr


def test_query_names_the_source_and_speaks_spack(tmp_path: Path) -> None:
    """Each result names the file (or reference) its record came from; a bare name is a root,
    --any-node any component; a virtual matches its providers; /HASH a DAG hash prefix."""
    db = str(tmp_path / "c.db")
    assert run("index", "--catalog", db, HDF5, HYPRE)[0] == 0
    code, stdout, _ = run("query", "hdf5 ^mpi", "--catalog", db)
    assert code == 0 and stdout == f"{Path(HDF5).resolve()}  hdf5@1.14.6\n"
    code, stdout, _ = run("query", "/mb6fva4", "--catalog", db, "-f", "json")
    (row,) = json.loads(stdout)
    assert row["source"] == row["origin"] == str(Path(HYPRE).resolve())
    assert row["subject"] == "hypre"
    assert run("query", "openmpi", "--catalog", db)[0] == 1
    code, stdout, _ = run("query", "openmpi", "--any-node", "--catalog", db)
    assert code == 0 and sorted(line.split()[1] for line in stdout.splitlines()) == [
        "hdf5@1.14.6",
        "hypre@3.1.0",
    ]


def test_select_cli(tmp_path: Path) -> None:
    from nameplate import oci

    from ._helpers import hypre, variant, write_image

    path = tmp_path / "layout"
    layout = oci.Layout(path)
    for tag, target in (("v3", "x86_64_v3"), ("zen4", "zen4")):
        digest = write_image(layout, tag, tag)
        oci.attach(variant(hypre(), target=target), f"oci:{path}@{digest}")
    code, stdout, _ = run("select", f"oci:{path}", "--host", H200)
    assert code == 0 and stdout.startswith(f"best: oci:{path}@sha256:") and "(tag v3)" in stdout
    assert "zen4: does not run" in stdout
    code, stdout, _ = run("select", f"oci:{path}", "--host", H200, "--tag", "zen4", "-f", "json")
    assert code == 1 and json.loads(stdout)["best"] is None
