"""``nameplate serve`` as a real process on a free loopback port, for the tests that need the
real server: notifications from a real registry, replicas, logs, TLS, the browser."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Served:
    """A running ``nameplate serve``."""

    proc: subprocess.Popen[bytes]
    base: str
    log: Path
    context: ssl.SSLContext | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(
            self.base + path, data=body, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(req, timeout=30, context=self.context) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def json(self, path: str, **kw: Any) -> Any:
        status, _, body = self.request("GET", path, **kw)
        assert status == 200, (status, body[:300])
        return json.loads(body)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start(
    folder: Path,
    *args: str,
    scheme: str = "http",
    context: ssl.SSLContext | None = None,
    env: dict[str, str] | None = None,
    name: str = "serve",
) -> Served:
    """Start ``nameplate serve ARGS --bind 127.0.0.1:PORT`` and wait for ``/healthz``."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{name}.log"
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(folder),
        "LC_ALL": "C.UTF-8",
        "DOCKER_CONFIG": str(folder / "no-docker-config"),
        **(env or {}),
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nameplate", "serve", "--bind", f"127.0.0.1:{port}", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environ,
            cwd=ROOT,
        )
    served = Served(proc, f"{scheme}://127.0.0.1:{port}", log, context)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nameplate serve exited {proc.returncode}: {served.logs()[-3000:]}")
        try:
            if served.request("GET", "/healthz")[0] == 200:
                return served
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.1)
    served.stop()
    raise RuntimeError(f"nameplate serve did not answer: {served.logs()[-3000:]}")
