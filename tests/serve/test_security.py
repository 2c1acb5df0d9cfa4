"""Writes need the token, the token is in no log line, pages escape what records hold, and
the service speaks TLS when given a certificate."""

from __future__ import annotations

import json
import ssl
import urllib.error
from pathlib import Path

import pytest

from nameplate.record import Record
from tests.oci import registries as regs

from . import server, site
from .conftest import TOKEN

pytestmark = pytest.mark.service


def test_the_token_appears_in_no_log_line(
    tmp_path: Path, token_file: Path, hosts_dir: Path, site_records: list[Record]
) -> None:
    url = str(tmp_path / "catalog.db")
    site.fill(url, site_records)
    served = server.start(
        tmp_path,
        "--catalog", url,
        "--token-file", str(token_file),
        "--hosts", str(hosts_dir),
        "--registry", f"127.0.0.1:{server.free_port()}",
        "--log-level", "debug",
    )  # fmt: skip
    try:
        profile = site.profile_json("cpu-icelake").encode()
        event = {
            "id": "logged-1",
            "action": "push",
            "target": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + "d" * 64,
                "repository": "hpc/app",
                "tag": "1",
            },
            "request": {"host": "127.0.0.1:1"},
        }
        note = json.dumps({"events": [event]}).encode()
        json_type = {"Content-Type": "application/json"}
        tries = [
            ({"Authorization": f"Bearer {TOKEN}"}, 201),
            ({"Authorization": f"Bearer {TOKEN}x"}, 401),
            ({"Authorization": f"Bearer {TOKEN[:-1]}"}, 401),
            ({"Authorization": f"Basic {TOKEN}"}, 401),
            ({"Authorization": TOKEN}, 401),
            ({}, 401),
        ]
        for headers, want in tries:
            status, _, body = served.request(
                "PUT", "/v1/hosts/logged", profile, {**json_type, **headers}
            )
            assert status in (want, 200), (headers, status, body)
            assert TOKEN.encode() not in body
        status, _, _ = served.request(
            "POST", "/v1/notifications", note, {**json_type, "Authorization": f"Bearer {TOKEN}"}
        )
        assert status == 202
    finally:
        served.stop()
    logs = served.logs()
    lines = logs.splitlines()
    assert any('"PUT /v1/hosts/logged HTTP/1.1" 401' in line for line in lines), logs[-2000:]
    assert any(
        "DEBUG nameplate.serve: PUT /v1/hosts/logged refused (401)" in line for line in lines
    )
    assert any("host profile logged registered" in line for line in lines)
    assert any("notification (distribution)" in line for line in lines)
    leaked = [line for line in lines if TOKEN[:12] in line]
    assert not leaked, leaked


def test_every_string_of_a_record_is_escaped(
    tmp_path: Path, site_records: list[Record], hosts_dir: Path
) -> None:
    from starlette.testclient import TestClient

    from nameplate.serve import ServeConfig, create_app

    url = str(tmp_path / "catalog.db")
    ids = site.fill(url, site_records)
    config = ServeConfig(catalog=url, hosts_dir=str(hosts_dir), indexing=False)
    with TestClient(create_app(config)) as client:
        pages = [
            f"/records/{ids['hostile']}",
            "/?q=zlib-ng",
            "/",
            "/matrix?q=zlib-ng",
            f"/diff?a={ids['zlib-ng@2.3.3']}&b={ids['hostile']}",
        ]
        for path in pages:
            html = client.get(path).text
            assert "<script" not in html, path
            assert "<img src=x" not in html, path
            assert "<svg" not in html, path
        html = client.get(f"/records/{ids['hostile']}").text
        assert "&lt;script&gt;localStorage.setItem(&#39;np-sentinel&#39;" in html
        assert "&lt;img src=x onerror=" in html


def test_tls(tmp_path: Path, site_records: list[Record]) -> None:
    ca, ca_key, ca_cert = regs.make_ca(tmp_path)
    cert, key = regs.make_server_cert(tmp_path, ca_key, ca_cert)
    url = str(tmp_path / "catalog.db")
    site.fill(url, site_records[:2], with_hostile=False)
    context = ssl.create_default_context(cafile=str(ca))
    served = server.start(
        tmp_path, "--catalog", url, "--tls-cert", str(cert), "--tls-key", str(key),
        scheme="https", context=context,
    )  # fmt: skip
    try:
        assert served.json("/healthz")["status"] == "ok"
        assert served.json("/v1/records")["count"] == 2 + len(site.VARIANTS)
        untrusted = server.Served(
            served.proc, served.base, served.log, ssl.create_default_context()
        )
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            untrusted.request("GET", "/healthz")
    finally:
        served.stop()
