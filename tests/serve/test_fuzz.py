"""Hypothesis fuzzing of what the service reads from clients and registries: notification
payloads, query parameters, posted host profiles and check requests, and every documented API
operation with arbitrary parameters. Only ``ServeError`` escapes a parser; the API answers a
documented status with a body that matches its schema, never a 500 or a traceback."""

from __future__ import annotations

import json
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from nameplate.errors import ServeError
from nameplate.record import Record
from nameplate.serve import ServeConfig, create_app, params
from nameplate.serve.api import _check_body
from nameplate.serve.hosts import parse_profile
from nameplate.serve.notify import parse_notification
from nameplate.serve.openapi import document

from . import site
from .conftest import TOKEN

pytestmark = pytest.mark.property

_KEYS = [
    "events", "action", "target", "mediaType", "digest", "repository", "tag", "url", "request",
    "host", "id", "type", "event_data", "resources", "resource_url", "repo_full_name",
    "specversion", "data", "cpu", "family", "target", "flags", "libc", "version", "mpi", "gpus",
    "nvidia", "record", "ref", "profile", "platform", "mpi_mode", "name", "schema_version",
]  # fmt: skip
_SCALARS = st.sampled_from(
    [
        "push", "pull", "PUSH_ARTIFACT", "harbor.artifact.pushed", "1.0", "hpc/app",
        "application/vnd.oci.image.manifest.v1+json", "sha256:" + "a" * 64, "127.0.0.1:5000",
        "registry.example.org/hpc/app:1", "x86_64", "icelake", "glibc", "gpu-h200",
    ]
)  # fmt: skip
_json: Any = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=40,
)


def _only_serve_errors(fn: Any, *args: Any) -> None:
    message = None
    try:
        fn(*args)
    except ServeError as exc:
        message = str(exc)
    if message is not None:
        assert message
        assert "\n" not in message


@given(st.binary(max_size=2000))
def test_notification_bytes(body: bytes) -> None:
    _only_serve_errors(parse_notification, body)


@given(_json)
def test_notification_documents(doc: Any) -> None:
    _only_serve_errors(parse_notification, json.dumps(doc).encode())
    _only_serve_errors(
        parse_notification,
        json.dumps({"events": [doc, {"action": "push", "target": doc}]}).encode(),
    )
    _only_serve_errors(
        parse_notification, json.dumps({"type": "PUSH_ARTIFACT", "event_data": doc}).encode()
    )
    _only_serve_errors(
        parse_notification,
        json.dumps({"specversion": "1.0", "type": "harbor.artifact.pushed", "data": doc}).encode(),
    )


@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=60)), max_size=5))
def test_query_parameters(items: list[tuple[str, str]]) -> None:
    _only_serve_errors(params.params_of, items, ["q", "limit", "host"])
    values = dict(items)
    _only_serve_errors(params.spec, values)
    _only_serve_errors(lambda p: params.limit(p, default=5, most=500), values)
    _only_serve_errors(params.mpi_mode, values)
    for _, value in items:
        _only_serve_errors(params.host_name, value)
        _only_serve_errors(params.record_id, value)
        _only_serve_errors(params.repository, value)
        _only_serve_errors(params.export_format, value)


@given(st.text(max_size=200))
def test_spec_queries(text: str) -> None:
    _only_serve_errors(params.spec, {"q": text})


@given(_json)
def test_posted_profiles_and_check_requests(doc: Any) -> None:
    body = json.dumps(doc).encode()
    _only_serve_errors(parse_profile, body, "x")
    _only_serve_errors(_check_body, body)
    _only_serve_errors(_check_body, json.dumps({"record": "r", "profile": doc}).encode())


@given(st.binary(max_size=300))
def test_posted_bytes(body: bytes) -> None:
    _only_serve_errors(parse_profile, body, "x")
    _only_serve_errors(_check_body, body)


# -- the API, operation by operation, from its OpenAPI document -------------------------------------

DOC = document()
OPERATIONS = [
    (path, method, op)
    for path, ops in DOC["paths"].items()
    for method, op in ops.items()
    if method == "get"
]


@pytest.fixture(scope="module")
def client(site_records: list[Record], hosts_dir: Path) -> Iterator[TestClient]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"{tmp}/catalog.db"
        site.fill(url, site_records)
        token = Path(tmp) / "token"
        token.write_text(TOKEN)
        config = ServeConfig(
            catalog=url,
            hosts_dir=str(hosts_dir),
            token_file=str(token),
            indexing=False,
            registries=frozenset({"127.0.0.1:1"}),
        )
        with TestClient(create_app(config), raise_server_exceptions=False) as c:
            yield c


def _schema(response: dict[str, Any]) -> dict[str, Any] | None:
    content = response.get("content", {}).get("application/json")
    if not content:
        return None
    return {**content["schema"], "components": DOC["components"]}


def _validate(op: dict[str, Any], status: int, body: bytes, headers: Any) -> None:
    assert str(status) in op["responses"], (op["operationId"], status, body[:300])
    assert status < 500, body[:300]
    schema = _schema(op["responses"][str(status)])
    if schema is not None and headers.get("content-type", "").startswith("application/json"):
        jsonschema.validate(json.loads(body), schema)


_values = st.one_of(
    st.text(max_size=40),
    _SCALARS,
    st.sampled_from(
        [
            "hdf5",
            "hdf5 +mpi ^openmpi",
            "gpu-h200",
            "cpu-zen4",
            "5",
            "0",
            "-1",
            site.REPO,
            f"{site.REPO}:3.1.0-zen3-mpich",
            "cyclonedx-json",
            "%",
            "..",
            "a/../b",
        ]
    ),
)


@pytest.mark.parametrize(
    ("path", "method", "op"), OPERATIONS, ids=[f"{m} {p}" for p, m, _ in OPERATIONS]
)
@settings(
    max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(data=st.data())
def test_every_get_operation(
    client: TestClient, path: str, method: str, op: dict[str, Any], data: st.DataObject
) -> None:
    query: list[tuple[str, str]] = []
    url = path
    for p in op.get("parameters", []):
        if p["in"] == "path":
            url = url.replace(
                "{" + p["name"] + "}",
                urllib.parse.quote(data.draw(_values, label=p["name"]) or "x", safe=""),
            )
        elif p.get("required") or data.draw(st.booleans()):
            query.append((p["name"], data.draw(_values, label=p["name"])))
    if data.draw(st.integers(0, 9)) == 0:
        query.append((data.draw(st.text(min_size=1, max_size=6)), "x"))
    r = client.get(url, params=query)
    _validate(op, r.status_code, r.content, r.headers)


@settings(
    max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(doc=_json, auth=st.booleans())
def test_every_body(client: TestClient, doc: Any, auth: bool) -> None:
    body = json.dumps(doc).encode()
    headers = {
        "Content-Type": "application/json",
        **({"Authorization": f"Bearer {TOKEN}"} if auth else {}),
    }
    for path, method in (
        ("/v1/check", "post"),
        ("/v1/notifications", "post"),
        ("/v1/hosts/fuzz", "put"),
    ):
        r = client.request(method.upper(), path, content=body, headers=headers)
        op = DOC["paths"][path if path != "/v1/hosts/fuzz" else "/v1/hosts/{name}"][method]
        _validate(op, r.status_code, r.content, r.headers)
