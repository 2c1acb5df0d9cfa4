"""docs/serve.md: its TLS example works as written, and the screenshots it shows exist."""

from __future__ import annotations

import re
import shlex
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from nameplate.record import Record
from tests.conftest import ROOT, need

from . import server, site

PAGE = ROOT / "docs" / "serve.md"


def test_the_screenshots_shown_exist() -> None:
    shown = re.findall(r"\]\((img/serve-[a-z]+\.png)\)", PAGE.read_text())
    assert len(shown) == 4
    for image in shown:
        assert (PAGE.parent / image).is_file(), image


@pytest.mark.service
def test_the_tls_example_works(tmp_path: Path, site_records: list[Record]) -> None:
    need(shutil.which("openssl") is not None, "openssl not installed (scripts/apt.d/oci.txt)")
    block = (
        PAGE.read_text()
        .split("<!-- @begin-tls-example -->")[1]
        .split("<!-- @end-tls-example -->")[0]
    )
    lines = (
        block.strip()
        .removeprefix("```sh")
        .removesuffix("```")
        .strip()
        .replace("\\\n", " ")
        .splitlines()
    )
    openssl, serve, curl = (shlex.split(line) for line in lines)
    assert openssl[0] == "openssl"
    subprocess.run(openssl, cwd=tmp_path, check=True, capture_output=True, timeout=60)
    assert serve[:2] == ["nameplate", "serve"] and serve[-1] == "&"
    args = serve[2:-1]
    site.fill(str(tmp_path / "site.db"), site_records[:1], with_hostile=False)
    args[args.index("--catalog") + 1] = str(tmp_path / "site.db")
    for option in ("--tls-cert", "--tls-key"):
        args[args.index(option) + 1] = str(tmp_path / args[args.index(option) + 1])
    bind = args.index("--bind")
    del args[bind : bind + 2]  # the test picks a free port
    assert curl[:3] == ["curl", "--cacert", "tls.crt"]
    context = ssl.create_default_context(cafile=str(tmp_path / "tls.crt"))
    served = server.start(tmp_path, *args, scheme="https", context=context)
    try:
        assert served.json(curl[-1].split("8443", 1)[1])["status"] == "ok"
    finally:
        served.stop()
