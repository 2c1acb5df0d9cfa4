"""Run the nameplate CLI as a child process, bounded in time and memory, and judge its answer.

A hostile input must end within ``timeout`` seconds (a hang is killed and fails the test), in an
address space of at most ``MEMORY_LIMIT`` bytes (a memory bomb ends in the child, not on the
machine), with one ``error:`` line on stderr naming the file and field, a documented exit code and
no traceback. The child's peak resident memory (``VmHWM``) is measured and returned.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

#: Address space of the child: far above what any case needs (about 150 MiB), far below a bomb.
MEMORY_LIMIT = 2 * 1024**3

_CHILD = """
import atexit, os, resource, sys
limit = int(os.environ["HOSTILE_MEMORY_LIMIT"])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
def _peak():
    with open("/proc/self/status") as f:
        kb = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    with open(os.environ["HOSTILE_PEAK_FILE"], "w") as out:
        out.write(kb)
atexit.register(_peak)
from nameplate.cli import main
main(sys.argv[1:])
"""


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_mib: float

    def assert_error(self, code: int, *must: str, limit_s: float = 10.0) -> str:
        """One ``error:`` line holding every ``must`` text, exit ``code``, no traceback."""
        assert "Traceback" not in self.stderr, self.stderr[-3000:]
        assert self.code == code, (self.code, self.stderr[-2000:])
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), self.stderr[-2000:]
        for text in must:
            assert text in lines[0], (text, lines[0])
        assert self.seconds < limit_s, self.seconds
        return lines[0]


def run_cli(
    *args: str | os.PathLike[str],
    timeout: float = 10.0,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Result:
    """``nameplate ARGS`` in a child process; a run past ``timeout`` seconds fails the test."""
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        peak_file = Path(tmp) / "peak"
        child_env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH")) if p
            ),
            "HOSTILE_PEAK_FILE": str(peak_file),
            "HOSTILE_MEMORY_LIMIT": str(MEMORY_LIMIT),
            **(env or {}),
        }
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=child_env,
            cwd=cwd,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(
                f"nameplate {' '.join(map(str, args))}: still running after {timeout} s (a hang)"
                f"\n{err.decode(errors='replace')[-2000:]}"
            )
        seconds = time.monotonic() - start
        peak = int(peak_file.read_text()) / 1024 if peak_file.exists() else float("nan")
    return Result(
        proc.returncode,
        out.decode(errors="replace"),
        err.decode(errors="replace"),
        seconds,
        peak,
    )
