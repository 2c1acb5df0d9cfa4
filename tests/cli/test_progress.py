"""Progress on a terminal only: counts and a bar on standard error when it is a terminal (a
real pseudo-terminal here), and not one byte more when it is not."""

from __future__ import annotations

import importlib.util
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA, ROOT

BIN = Path(sys.executable).parent
STORE = DATA / "spack/spack1.3-fake-store/opt/spack"


def _make_store(dest: Path, specs: int) -> None:
    """A synthetic store made from the Spack 1.3 fixture store (benchmarks/spack_store.py)."""
    spec = importlib.util.spec_from_file_location("spack_store", ROOT / "benchmarks/spack_store.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.make_store(dest, specs)


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("big") / "store"
    _make_store(dest, 600)
    return dest


def nameplate(*args: str, tty: bool, cwd: Path) -> tuple[int, str]:
    """Run the real console script; stderr is a pseudo-terminal when ``tty``."""
    command = [sys.executable, "-m", "nameplate", *args]
    if not tty:
        done = subprocess.run(
            command,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=300,
            check=False,
        )
        return done.returncode, done.stderr.decode()
    leader, follower = pty.openpty()
    with subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=follower) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process is gone
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=300)
    os.close(leader)
    return code, b"".join(chunks).decode()


BAR = re.compile(r"\[[#-]{30}\] (\d+)/(\d+)")


def test_extract_of_a_large_store(big_store: Path, tmp_path: Path) -> None:
    code, err = nameplate("extract", "spack", str(big_store), "-o", "a/", tty=True, cwd=tmp_path)
    assert code == 0, err
    counts = {
        (label, m[2]) for label, m in ((line, BAR.search(line)) for line in err.split("\r")) if m
    }
    labels = " ".join(label for label, _ in counts)
    assert "reading store" in labels and "validating" in labels and "writing" in labels
    roots = len(list((tmp_path / "a").iterdir()))
    assert any(total == str(roots) for _, total in counts)
    assert f"{roots}/{roots}" in err
    code, err = nameplate("extract", "spack", str(big_store), "-o", "b/", tty=False, cwd=tmp_path)
    assert code == 0 and err == f"wrote {roots} records to b/\n"


def test_export_of_a_large_record(big_store: Path, tmp_path: Path) -> None:
    record = tmp_path / "big.json"
    code, err = nameplate(
        "extract", "spack", str(big_store), "--combined", "-o", str(record), tty=False, cwd=tmp_path
    )
    assert code == 0 and record.stat().st_size > 2 << 20, err
    code, err = nameplate(
        "export", str(record), "-f", "spdx", "-o", "big.spdx.json", tty=True, cwd=tmp_path
    )
    assert code == 0, err
    assert "exporting big.json as spdx-2.3" in err and "3/3" in err and "components" in err
    code, err = nameplate(
        "export", str(record), "-f", "spdx", "-o", "again.spdx.json", tty=False, cwd=tmp_path
    )
    assert code == 0 and err == ""
    assert (tmp_path / "big.spdx.json").read_bytes() == (tmp_path / "again.spdx.json").read_bytes()


def test_select_and_index_over_many_tags(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    binary = DATA / "elf/libsaxpy_a.so"
    example = ROOT / "examples/records/spack-hdf5-openmpi-icelake.json"
    for i in range(6):
        ref = f"oci:{layout}:v{i}"
        assert nameplate("push", str(binary), "--to", ref, tty=False, cwd=tmp_path)[0] == 0
        assert nameplate("attach", str(example), "--to", ref, tty=False, cwd=tmp_path)[0] == 0
    host = str(DATA / "hosts/linux-h200-icelake.host.json")
    code, err = nameplate("select", f"oci:{layout}", "--host", host, tty=True, cwd=tmp_path)
    assert code == 0 and "reading the tags of" in err and "6/6" in err, err
    code, err = nameplate("select", f"oci:{layout}", "--host", host, tty=False, cwd=tmp_path)
    assert code == 0 and err == ""
    db = str(tmp_path / "cat.db")
    code, err = nameplate("index", f"oci:{layout}", "--catalog", db, tty=True, cwd=tmp_path)
    assert code == 0 and "indexing" in err and "6/6" in err, err
    code, err = nameplate("index", f"oci:{layout}", "--catalog", db, tty=False, cwd=tmp_path)
    assert code == 0 and err == ""
