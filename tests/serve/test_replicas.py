"""Two ``nameplate serve`` processes over one PostgreSQL catalog behave as replicas: a host
profile registered through one is used by the other's check, a record indexed through one is
found through the other, and a queued notification is indexed once."""

from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path

import pytest

from nameplate import oci
from nameplate.record import Record
from tests.conftest import need
from tests.oci import registries as regs
from tests.oci.conftest import push_image

from . import server, site
from .conftest import TOKEN, new_database
from .registry import start_notifying
from .test_notifications import diagnose

pytestmark = pytest.mark.service

AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def test_two_processes_over_one_postgresql_are_replicas(
    postgres_url: str, token_file: Path, tmp_path: Path, site_records: list[Record]
) -> None:
    need(regs.DOCKER_REGISTRY is not None, "docker-registry not installed (scripts/apt.d/oci.txt)")
    url = new_database(postgres_url)
    port = server.free_port()
    host = f"127.0.0.1:{port}"
    args = [
        "--catalog",
        url,
        "--token-file",
        str(token_file),
        "--registry",
        host,
        "--plain-http",
    ]
    a = server.start(tmp_path, *args, name="a")
    b = c = reg = None
    try:
        b = server.start(tmp_path, *args, name="b")
        # a host profile registered through a is used by b
        status, _, body = a.request(
            "PUT", "/v1/hosts/part-a", site.profile_json("cpu-zen4").encode(), AUTH
        )
        assert status == 201, body
        assert "part-a" in [h["name"] for h in b.json("/v1/hosts")["hosts"]]
        # a record indexed through a (its registry notifies a only) is found through b
        reg = start_notifying(
            tmp_path / "registry", port=port, url=a.base + "/v1/notifications", token=TOKEN
        )
        record = next(
            r for r in site_records if r.subject.name == "zlib-ng" and r.subject.version == "2.3.3"
        )
        ref = reg.ref("lib/zlib-ng:2.3.3")
        digest = push_image(ref, transport=reg.transport, seed="zlib")
        oci.attach(record, ref, transport=reg.transport)
        key = f"{host}/lib/zlib-ng@{digest}"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            hits = b.json("/v1/records?q=zlib-ng")["records"]
            if any(h["id"] == key for h in hits):
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"not found through b:\n{diagnose(a, reg)}")
        check = b.json("/v1/check?" + urllib.parse.urlencode({"host": "part-a", "record": key}))
        assert check["host"] == "part-a"
        assert check["verdict"] in ("pass", "unknown", "fail")
        assert check["record"] == key
        # a profile removed through b is gone for a
        assert b.request("DELETE", "/v1/hosts/part-a", headers=AUTH)[0] == 204
        assert a.request("GET", "/v1/hosts/part-a")[0] == 404
        # the same notification posted to both replicas is queued and indexed once
        event = {
            "id": "replica-" + digest[7:23],
            "action": "push",
            "target": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "repository": "lib/zlib-ng",
                "tag": "2.3.3",
            },
            "request": {"host": host},
        }
        payload = json.dumps({"events": [event]}).encode()
        queued = [
            json.loads(s.request("POST", "/v1/notifications", payload, AUTH)[2])["queued"]
            for s in (a, b)
        ]
        assert sorted(queued) == [0, 1]
        deadline = time.monotonic() + 10
        mine: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            mine = [
                e
                for e in b.json("/v1/notifications")["events"]
                if e["digest"] == digest and e["tag"] == "2.3.3"
            ]
            if mine and all(e["state"] == "done" for e in mine):
                break
            time.sleep(0.1)
        assert [e["attempts"] for e in mine if e["state"] == "done"], diagnose(a, reg)
        assert all(e["attempts"] == 1 for e in mine), diagnose(a, reg)
    finally:
        for s in (b, c, a):
            if s is not None:
                s.stop()
        if reg is not None:
            reg.stop()
