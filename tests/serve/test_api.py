"""Every endpoint of the JSON API, against the site indexed from the fixture stores, on SQLite
and on PostgreSQL (the same tests, parametrized by ``catalog_url``)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from nameplate.serve import ServeConfig, create_app

from . import site
from .conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def client(
    catalog_url: str, site_ids: dict[str, str], hosts_dir: Path, token_file: Path
) -> Iterator[TestClient]:
    config = ServeConfig(
        catalog=catalog_url,
        hosts_dir=str(hosts_dir),
        token_file=str(token_file),
        registries=frozenset({"registry.example.org"}),
        indexing=False,
    )
    with TestClient(create_app(config)) as c:
        yield c


def q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def error_of(resp: object) -> dict[str, object]:
    body = resp.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}, body
    return body["error"]  # type: ignore[no-any-return]


# -- health and the document ----------------------------------------------------------------------


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_openapi_document_lists_every_route(client: TestClient) -> None:
    from nameplate.serve import api

    doc = client.get("/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    documented = {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops}
    routed = {
        (path.replace("{id:path}", "{id}"), method)
        for path, _, methods in api.ROUTES
        for method in methods
    }
    assert documented == routed


# -- records ------------------------------------------------------------------------------------------


def test_search_in_spec_syntax(client: TestClient, site_ids: dict[str, str]) -> None:
    r = client.get("/v1/records", params={"q": "hdf5 +mpi ^openmpi"})
    assert r.status_code == 200
    body = r.json()
    got = {x["subject"] + "@" + (x["version"] or "") for x in body["records"]}
    assert got == {"hdf5@1.14.6", "hdf5@1.14.5"}
    first = body["records"][0]
    assert first["target"] == "icelake"
    assert first["mpi"].startswith("openmpi@")
    assert first["links"]["page"].startswith("/records/")
    # a dependency clause that no record satisfies
    assert client.get("/v1/records", params={"q": "hdf5 ^mpich"}).json()["records"] == []
    # variants of the hypre repository, with their repository and tag
    hyp = client.get("/v1/records", params={"q": "hypre target=zen3:", "limit": "10"}).json()
    tags = {x["tag"] for x in hyp["records"]}
    assert {"3.1.0-zen3-mpich", "3.1.0-zen4-openmpi"} <= tags


def test_search_finds_roots_and_with_any_node_every_record_holding_it(client: TestClient) -> None:
    roots = client.get("/v1/records", params={"q": "zlib-ng", "limit": "500"}).json()
    assert roots["any_node"] is False
    # records whose root is zlib-ng (the hostile record is zlib-ng's under another subject
    # name), as `nameplate query`; hdf5 only holds it
    assert roots["records"]
    assert "hdf5" not in {x["subject"] for x in roots["records"]}
    anywhere = client.get(
        "/v1/records", params={"q": "zlib-ng", "any_node": "1", "limit": "500"}
    ).json()
    assert anywhere["any_node"] is True
    holders = {x["subject"] for x in anywhere["records"]}
    assert {"hdf5"} <= holders  # hdf5 links zlib-ng (the fixture stores)
    assert len(anywhere["records"]) > len(roots["records"])
    bad = client.get("/v1/records", params={"q": "zlib-ng", "any_node": "maybe"})
    assert bad.status_code == 400
    assert error_of(bad)["field"] == "any_node"
    page = client.get("/", params={"q": "zlib-ng", "any_node": "1"})
    assert page.status_code == 200
    assert 'name="any_node" value="1" checked' in page.text
    matrix = client.get("/v1/matrix", params={"q": "zlib-ng", "any_node": "true"})
    assert matrix.status_code == 200


def test_search_without_query_lists_the_newest(client: TestClient) -> None:
    body = client.get("/v1/records", params={"limit": "3"}).json()
    assert body["query"] is None
    assert body["count"] == 3
    created = [x["created"] for x in body["records"]]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("q=hdf5%20%5E", "q"),
        ("q=a%20b%20c", "q"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=501", "limit"),
        ("hots=x", "hots"),
        ("q=hdf5&q=zlib", "q"),
        ("q=%00", "q"),
    ],
)
def test_search_refuses_bad_parameters(client: TestClient, query: str, field: str) -> None:
    r = client.get(f"/v1/records?{query}")
    assert r.status_code == 400
    err = error_of(r)
    assert err["field"] == field
    assert "Traceback" not in r.text


def test_one_record_and_its_exports(client: TestClient, site_ids: dict[str, str]) -> None:
    rid = site_ids["hdf5@1.14.6"]
    r = client.get(f"/v1/records/{q(rid)}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    record = r.json()
    assert record["serial"] == rid
    assert record["subject"]["name"] == "hdf5"
    for fmt, media in [
        ("cyclonedx-json", "application/vnd.cyclonedx+json"),
        ("spdx-2.3", "application/spdx+json"),
        ("jsonld", "application/ld+json"),
        ("turtle", "text/turtle"),
        ("nfd", "application/vnd.nfd.image-compatibility.v1alpha1"),
    ]:
        e = client.get(f"/v1/records/{q(rid)}", params={"format": fmt})
        assert e.status_code == 200, (fmt, e.text[:200])
        assert e.headers["content-type"].startswith(media)
        assert e.headers["content-disposition"].startswith('attachment; filename="hdf5-1.14.6')
    cdx = client.get(f"/v1/records/{q(rid)}", params={"format": "cdx"}).json()
    assert cdx["bomFormat"] == "CycloneDX"


def test_record_ids_with_slashes(client: TestClient, site_ids: dict[str, str]) -> None:
    key = site_ids["hypre:3.1.0-zen4-openmpi"]
    assert "/" in key and "@" in key
    for path in (f"/v1/records/{key}", f"/v1/records/{q(key)}"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.json()["hpc"]["target"]["name"] == "zen4"


def test_missing_record_and_bad_format(client: TestClient, site_ids: dict[str, str]) -> None:
    r = client.get("/v1/records/urn:uuid:00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404
    assert error_of(r)["field"] == "id"
    r = client.get(f"/v1/records/{q(site_ids['hdf5@1.14.6'])}", params={"format": "docx"})
    assert r.status_code == 400
    assert error_of(r)["field"] == "format"


# -- hosts ----------------------------------------------------------------------------------------------


def test_hosts_from_the_folder(client: TestClient) -> None:
    hosts = client.get("/v1/hosts").json()["hosts"]
    by_name = {h["name"]: h for h in hosts}
    assert set(site.hosts()) <= set(by_name)
    assert by_name["gpu-h200"]["gpus"] == ["NVIDIA H200"]
    assert by_name["gpu-h200"]["cuda_driver"] == "13.0"
    assert by_name["arm-grace"]["family"] == "aarch64"
    assert all(by_name[n]["source"] == "file" for n in site.hosts())
    one = client.get("/v1/hosts/cpu-zen4").json()
    assert one["name"] == "cpu-zen4"
    assert one["cpu"]["target"] == "zen4"
    assert client.get("/v1/hosts/nope").status_code == 404
    assert client.get("/v1/hosts/bad%20name").status_code == 400


def test_register_use_and_remove_a_host(client: TestClient, site_ids: dict[str, str]) -> None:
    profile = site.profile_json("cpu-icelake")
    r = client.put("/v1/hosts/part-new", content=profile, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "api"
    assert client.put("/v1/hosts/part-new", content=profile, headers=AUTH).status_code == 200
    names = [h["name"] for h in client.get("/v1/hosts").json()["hosts"]]
    assert "part-new" in names
    check = client.get(
        "/v1/check", params={"host": "part-new", "record": site_ids["hdf5@1.14.6"]}
    ).json()
    assert check["host"] == "part-new"
    assert check["verdict"] == "pass"
    assert client.delete("/v1/hosts/part-new", headers=AUTH).status_code == 204
    assert client.delete("/v1/hosts/part-new", headers=AUTH).status_code == 404
    assert client.get("/v1/hosts/part-new").status_code == 404


def test_host_writes_are_checked(client: TestClient) -> None:
    profile = site.profile_json("cpu-icelake")
    # a name from --hosts cannot be replaced or removed
    assert client.put("/v1/hosts/gpu-h200", content=profile, headers=AUTH).status_code == 409
    assert client.delete("/v1/hosts/gpu-h200", headers=AUTH).status_code == 409
    # not a profile
    bad = client.put("/v1/hosts/x1", content=b'{"cpu": {"family": 3}}', headers=AUTH)
    assert bad.status_code == 400
    assert error_of(bad)["field"] == "body"
    assert "cpu" in str(error_of(bad)["message"])
    assert client.put("/v1/hosts/x1", content=b"[1", headers=AUTH).status_code == 400
    assert (
        client.put(
            "/v1/hosts/x1", content=profile, headers={**AUTH, "Content-Type": "text/plain"}
        ).status_code
        == 415
    )
    big = b'{"name": "' + b"x" * (300 << 10) + b'"}'
    assert client.put("/v1/hosts/x1", content=big, headers=AUTH).status_code == 413


# -- check, select, matrix, diff ------------------------------------------------------------------------


def test_check_a_record_on_named_hosts(client: TestClient, site_ids: dict[str, str]) -> None:
    rid = site_ids["hdf5@1.14.6"]
    verdicts = {
        h: client.get("/v1/check", params={"host": h, "record": rid}).json()["verdict"]
        for h in site.hosts()
    }
    assert verdicts["cpu-icelake"] == "pass"
    assert verdicts["gpu-h200"] == "pass"
    assert verdicts["arm-grace"] == "fail"  # an icelake build on aarch64
    assert verdicts["legacy-haswell"] == "fail"  # glibc 2.17, no avx512
    body = client.get("/v1/check", params={"host": "arm-grace", "record": rid}).json()
    assert any(w.startswith("cpu.family:") for w in body["why_not"])
    assert body["record"] == rid


def test_check_an_indexed_reference(client: TestClient, site_ids: dict[str, str]) -> None:
    ref = f"{site.REPO}:3.1.0-zen3-mpich"
    body = client.get("/v1/check", params={"host": "cpu-zen4", "ref": ref}).json()
    assert body["verdict"] == "pass"
    assert body["record"] == site_ids["hypre:3.1.0-zen3-mpich"]
    by_digest = client.get(
        "/v1/check", params={"host": "cpu-zen4", "ref": site_ids["hypre:3.1.0-zen3-mpich"]}
    ).json()
    assert by_digest["verdict"] == "pass"
    missing = client.get("/v1/check", params={"host": "cpu-zen4", "ref": f"{site.REPO}:nope"})
    assert missing.status_code == 404
    assert error_of(missing)["field"] == "ref"


def test_check_refusals(client: TestClient, site_ids: dict[str, str]) -> None:
    rid = site_ids["hdf5@1.14.6"]
    assert client.get("/v1/check", params={"record": rid}).status_code == 400  # no host
    assert client.get("/v1/check", params={"host": "gpu-h200"}).status_code == 400
    both = client.get("/v1/check", params={"host": "gpu-h200", "record": rid, "ref": "a/b:c"})
    assert both.status_code == 400
    assert client.get("/v1/check", params={"host": "nope", "record": rid}).status_code == 404
    mode = client.get("/v1/check", params={"host": "gpu-h200", "record": rid, "mpi_mode": "x"})
    assert error_of(mode)["field"] == "mpi_mode"


def test_check_posted(client: TestClient, site_ids: dict[str, str]) -> None:
    rid = site_ids["hdf5@1.14.6"]
    profile = json.loads(site.profile_json("legacy-haswell"))
    body = client.post("/v1/check", json={"record": rid, "profile": profile}).json()
    assert body["verdict"] == "fail"
    body = client.post("/v1/check", json={"record": rid, "host": "cpu-icelake"}).json()
    assert body["verdict"] == "pass"
    r = client.post("/v1/check", json={"record": rid, "host": "x", "profile": profile})
    assert r.status_code == 400
    r = client.post("/v1/check", json={"record": rid, "profile": {"cpu": []}})
    assert error_of(r)["field"] == "profile"
    r = client.post("/v1/check", json={"record": rid, "hosts": "x"})
    assert error_of(r)["field"] == "hosts"


def test_select_the_best_tag(client: TestClient) -> None:
    expect = {
        "cpu-zen4": "3.1.0-zen3-mpich",
        "gpu-h200": "3.1.0-icelake-openmpi-cuda13",
        "arm-grace": "3.1.0-neoverse_v2-openmpi",
        "legacy-haswell": None,
    }
    for host, tag in expect.items():
        body = client.get("/v1/select", params={"repository": site.REPO, "host": host}).json()
        assert body["best_tag"] == tag, (host, body)
        assert len(body["candidates"]) == len(site.VARIANTS)
        assert all(c["why"] for c in body["candidates"])
    r = client.get(
        "/v1/select", params={"repository": "registry.example.org/none", "host": "gpu-h200"}
    )
    assert r.status_code == 404
    r = client.get("/v1/select", params={"repository": "not a repo", "host": "gpu-h200"})
    assert error_of(r)["field"] == "repository"


def test_matrix(client: TestClient) -> None:
    body = client.get("/v1/matrix", params={"q": "hypre"}).json()
    assert body["hosts"] == sorted(site.hosts())
    assert len(body["rows"]) == len(site.VARIANTS) + 1
    states = {c["state"] for row in body["rows"] for c in row["cells"]}
    assert {"pass", "fail"} <= states
    for row in body["rows"]:
        for c in row["cells"]:
            if c["state"] in ("fail", "unknown"):
                assert c["reasons"]


def test_diff_of_two_builds(client: TestClient, site_ids: dict[str, str]) -> None:
    a, b = site_ids["hdf5@1.14.5"], site_ids["hdf5@1.14.6"]
    body = client.get("/v1/diff", params={"a": a, "b": b}).json()
    assert not body["same"]
    assert {"field": "version", "a": "1.14.5", "b": "1.14.6"} in body["subject"]
    changed = {c["name"] for c in body["components"]["changed"]}
    assert "hdf5" in changed
    same = client.get("/v1/diff", params={"a": a, "b": a}).json()
    assert same["same"]
    assert client.get("/v1/diff", params={"a": a}).status_code == 400


# -- notifications --------------------------------------------------------------------------------------


def distribution_push(repo: str, digest: str, tag: str | None, host: str) -> bytes:
    target = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "repository": repo,
        "url": f"http://{host}/v2/{repo}/manifests/{digest}",
        **({"tag": tag} if tag else {}),
    }
    event = {
        "id": f"ev-{digest[7:19]}-{tag}",
        "action": "push",
        "target": target,
        "request": {"host": host},
    }
    return json.dumps({"events": [event]}).encode()


def test_notifications_need_the_token(client: TestClient) -> None:
    body = distribution_push("hpc/app", "sha256:" + "a" * 64, "1.0", "registry.example.org")
    r = client.post("/v1/notifications", content=body)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = client.post(
        "/v1/notifications", content=body, headers={"Authorization": "Bearer wrong-token-xxxxxxxx"}
    )
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    r = client.post("/v1/notifications", content=body, headers=AUTH)
    assert r.status_code == 202
    assert r.json() == {"format": "distribution", "accepted": 1, "queued": 1, "ignored": []}
    again = client.post("/v1/notifications", content=body, headers=AUTH).json()
    assert again["queued"] == 0  # the same event id is queued once
    events = client.get("/v1/notifications").json()["events"]
    assert events[0]["repository"] == "hpc/app"
    assert events[0]["state"] == "pending"


def test_notifications_of_other_registries_are_ignored(client: TestClient) -> None:
    body = distribution_push("hpc/app", "sha256:" + "b" * 64, None, "evil.example.com:5000")
    answer = client.post("/v1/notifications", content=body, headers=AUTH).json()
    assert answer["accepted"] == 0
    assert "evil.example.com:5000 is not configured" in answer["ignored"][0]


def test_harbor_webhooks(client: TestClient) -> None:
    default = {
        "type": "PUSH_ARTIFACT",
        "occur_at": 1586922308,
        "operator": "admin",
        "event_data": {
            "resources": [
                {
                    "digest": "sha256:" + "c" * 64,
                    "tag": "latest",
                    "resource_url": "registry.example.org/hpc/debian:latest",
                }
            ],
            "repository": {"name": "debian", "namespace": "hpc", "repo_full_name": "hpc/debian"},
        },
    }
    answer = client.post("/v1/notifications", json=default, headers=AUTH).json()
    assert answer["format"] == "harbor"
    assert answer["accepted"] == 1
    cloud = {
        "specversion": "1.0",
        "id": "66e18103-09c1-41f6-982f-37df223f3eeb",
        "type": "harbor.artifact.pushed",
        "source": "/projects/2/webhook/policies/15",
        "datacontenttype": "application/json",
        "data": default["event_data"],
    }
    answer = client.post(
        "/v1/notifications",
        content=json.dumps(cloud),
        headers={**AUTH, "Content-Type": "application/cloudevents+json"},
    ).json()
    assert answer["format"] == "harbor-cloudevents"
    assert answer["accepted"] == 1
    pulled = {**default, "type": "PULL_ARTIFACT"}
    assert client.post("/v1/notifications", json=pulled, headers=AUTH).json()["accepted"] == 0


def test_bad_notifications(client: TestClient) -> None:
    for body in (b"[]", b"{", b'{"hello": 1}', b'{"events": 3}'):
        r = client.post("/v1/notifications", content=body, headers=AUTH)
        assert r.status_code == 400, body
        assert "Traceback" not in r.text
    big = b'{"events": [' + b'{"action": "pull"},' * 100_000 + b"{}]}"
    assert client.post("/v1/notifications", content=big, headers=AUTH).status_code == 413


# -- every answer -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/records", "/v1/hosts", "/", "/v1/nope", "/nope"])
def test_security_headers_everywhere(client: TestClient, path: str) -> None:
    r = client.get(path)
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp  # no script source at all: default-src 'none' applies
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"


def test_unknown_paths_and_methods(client: TestClient) -> None:
    r = client.get("/v1/nope")
    assert r.status_code == 404
    assert error_of(r)["status"] == 404
    r = client.post("/v1/records")
    assert r.status_code == 405
    page = client.get("/nope")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")


# -- the pages, on both backends --------------------------------------------------------------------


def test_pages(client: TestClient, site_ids: dict[str, str]) -> None:
    hdf5 = site_ids["hdf5@1.14.6"]
    expect = {
        "/": ["Search records", "newest of"],
        "/?q=hdf5%20%2Bmpi": ["2</strong> records match", "hdf5@1.14.6"],
        f"/records/{hdf5}": ["Dependency tree", "Runs on", "cpu-icelake", "[build,link]"],
        f"/records/{site_ids['hypre:3.1.0-zen4-openmpi']}": [
            "registry.example.org/hpc/hypre:3.1.0-zen4-openmpi"
        ],
        "/matrix?q=hypre": ["Compatibility matrix", "gpu-h200", "v-pass"],
        f"/diff?a={site_ids['hdf5@1.14.5']}&b={hdf5}": ["hdf5@1.14.5</a> (a)", "Changed"],
        "/diff": ["Give two record ids"],
        "/hosts": ["arm-grace", "neoverse_v2"],
    }
    for path, needles in expect.items():
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        assert r.headers["content-type"].startswith("text/html")
        for needle in needles:
            assert needle in r.text, (path, needle)
    css = client.get("/static/nameplate.css")
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    bad = client.get("/?q=hdf5%20%5E")
    assert bad.status_code == 400
    assert "^" in bad.text and "<h1>400" in bad.text
    assert client.get("/records/urn:uuid:nope").status_code == 404
