"""The JSON API under ``/v1/`` (and ``/healthz``): thin handlers that check parameters
(:mod:`.params`), run one :class:`~.service.Service` call on a database thread and answer JSON.
Described by :mod:`.openapi`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import formats
from .._terminal import printable
from .._version import __version__
from ..errors import CompatError, ServeError
from . import params
from .hosts import MAX_PROFILE, profile_summary
from .notify import MAX_BODY
from .openapi import document
from .security import read_json_body, require_token

if TYPE_CHECKING:
    from .state import State

__all__ = ["ROUTES"]


def _state(request: Request) -> State:
    state: State = request.app.state.np
    return state


def _params(request: Request, *allowed: str) -> dict[str, str]:
    return params.params_of(request.query_params.multi_items(), allowed)


async def health(request: Request) -> Response:
    """``GET /healthz``."""
    st = _state(request)
    _params(request)
    try:
        await st.db.run(lambda s: s.catalog.recent(1))
    except Exception as exc:
        raise ServeError(f"catalog unreachable: {type(exc).__name__}", status=503) from exc
    return JSONResponse({"status": "ok", "version": __version__})


async def openapi(request: Request) -> Response:
    """``GET /v1/openapi.json``."""
    _params(request)
    return JSONResponse(document())


async def records(request: Request) -> Response:
    """``GET /v1/records?q=SPEC&limit=N&any_node=1``."""
    st = _state(request)
    p = _params(request, "q", "limit", "any_node")
    q = params.spec(p)
    limit = params.limit(p, default=50, most=500)
    any_node = params.flag(p, "any_node")
    found = await st.db.answer(st.service.search, q, limit, any_node)
    return JSONResponse(
        {
            "query": q.text if q else None,
            "any_node": any_node,
            "count": len(found),
            "limit": limit,
            "records": found,
        }
    )


async def record(request: Request) -> Response:
    """``GET /v1/records/{id}[?format=FMT]``."""
    st = _state(request)
    p = _params(request, "format")
    rid = params.record_id(request.path_params["id"])
    if p.get("format"):
        fmt = params.export_format(p["format"])
        entry, data = await st.db.run(st.service.export, rid, fmt)
        name = _filename(entry.subject, entry.version) + formats.EXTENSIONS.get(fmt, "")
        return Response(
            data,
            media_type=formats.MEDIA_TYPES[fmt],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    entry = await st.db.answer(st.service.entry, rid)
    return Response(entry.record_json.encode(), media_type="application/json")


def _filename(subject: str, version: str | None) -> str:
    raw = f"{subject}-{version}" if version else subject
    cleaned = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_" for ch in raw)
    return cleaned.strip("._")[:80] or "record"


async def hosts(request: Request) -> Response:
    """``GET /v1/hosts``."""
    st = _state(request)
    _params(request)
    sites = await st.db.run(st.service.hosts)
    return JSONResponse({"hosts": [profile_summary(h) for h in sites.values()]})


async def host(request: Request) -> Response:
    """``GET``, ``PUT``, ``DELETE /v1/hosts/{name}``."""
    st = _state(request)
    _params(request)
    name = request.path_params["name"]
    if request.method in ("PUT", "DELETE"):
        require_token(request, st.token)
    if request.method == "PUT":
        body = await read_json_body(request, MAX_PROFILE)
        created, summary = await st.db.run(st.service.put_host, name, body)
        return JSONResponse(summary, status_code=201 if created else 200)
    if request.method == "DELETE":
        await st.db.run(st.service.delete_host, name)
        return Response(status_code=204)
    site = await st.db.run(st.service.host, name, "name")
    return JSONResponse(site.host.to_dict())


async def check(request: Request) -> Response:
    """``GET /v1/check?host=NAME&record=ID|ref=REF`` and ``POST /v1/check``."""
    st = _state(request)
    if request.method == "POST":
        _params(request)
        args = _check_body(await read_json_body(request, MAX_PROFILE + 4096))
    else:
        p = _params(request, "host", "record", "ref", "platform", "mpi_mode")
        args = {
            "record": p.get("record") or None,
            "ref": p.get("ref") or None,
            "platform": p.get("platform") or None,
            "host": params.host_name(p.get("host")),
            "mpi_mode": params.mpi_mode(p),
        }
    checked = await st.db.answer(_run_check, st, args)
    return Response(checked, media_type="application/json")


def _run_check(session: Any, st: State, args: dict[str, Any]) -> bytes:
    return st.service.check_json(session, **args)


def _check_body(body: bytes) -> dict[str, Any]:
    """The fields of ``POST /v1/check``: ``record`` or ``ref``, ``host`` or ``profile``."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ServeError(f"body: not JSON: {exc}", field="body") from exc
    if not isinstance(doc, dict):
        raise ServeError("body: a JSON object is expected", field="body")
    known = {"record", "ref", "platform", "host", "profile", "mpi_mode"}
    extra = sorted(k for k in doc if k not in known)
    if extra:
        raise ServeError(f"{printable(extra[0][:40])}: unknown field", field=extra[0][:40])
    for key in ("record", "ref", "platform", "host", "mpi_mode"):
        if key in doc and not isinstance(doc[key], str):
            raise ServeError(f"{key}: a string is expected", field=key)
    profile = None
    if "profile" in doc:
        if "host" in doc:
            raise ServeError("host, profile: give one of them", field="profile")
        if not isinstance(doc["profile"], dict):
            raise ServeError("profile: a host profile object is expected", field="profile")
        try:
            from ..compat.profile import host_from_json

            profile = host_from_json(json.dumps(doc["profile"]), where="profile")
        except CompatError as exc:
            raise ServeError(str(exc), field="profile") from exc
    host_name = None if profile is not None else params.host_name(doc.get("host"))
    return {
        "record": doc.get("record") or None,
        "ref": doc.get("ref") or None,
        "platform": doc.get("platform") or None,
        "host": host_name,
        "profile": profile,
        "mpi_mode": params.mpi_mode({"mpi_mode": doc.get("mpi_mode") or "auto"}),
    }


async def select(request: Request) -> Response:
    """``GET /v1/select?repository=REPO&host=NAME``."""
    st = _state(request)
    p = _params(request, "repository", "host", "mpi_mode")
    repo = params.repository(p.get("repository"))
    name = params.host_name(p.get("host"))
    chosen = await st.db.answer(st.service.select_json, repo, name, params.mpi_mode(p))
    return Response(chosen, media_type="application/json")


async def matrix(request: Request) -> Response:
    """``GET /v1/matrix?q=SPEC&any_node=1``."""
    st = _state(request)
    p = _params(request, "q", "limit", "any_node")
    q = params.spec(p)
    limit = params.limit(p, default=25, most=100)
    names, rows = await st.db.run(st.service.matrix, q, limit, params.flag(p, "any_node"))
    from .views import cell

    out = [
        {
            "record": summary,
            "cells": [
                {"host": n, "state": c["state"], "reasons": c["reasons"]}
                for n, c in zip(names, (cell(r) for r in reports), strict=True)
            ],
        }
        for summary, reports in rows
    ]
    return JSONResponse({"query": q.text if q else None, "hosts": names, "rows": out})


async def diff(request: Request) -> Response:
    """``GET /v1/diff?a=ID&b=ID``."""
    st = _state(request)
    p = _params(request, "a", "b")
    a, b = params.record_id(p.get("a"), "a"), params.record_id(p.get("b"), "b")
    ea, eb, d = await st.db.run(st.service.diff, a, b)
    return JSONResponse({"a": ea.key, "b": eb.key, **d.to_dict()})


async def notifications(request: Request) -> Response:
    """``POST /v1/notifications`` (a registry's webhook) and ``GET`` (the queue)."""
    st = _state(request)
    if request.method == "GET":
        p = _params(request, "limit")
        events = await st.db.run(st.service.events, params.limit(p, default=50, most=500))
        return JSONResponse({"events": events})
    _params(request)
    require_token(request, st.token)
    body = await read_json_body(request, MAX_BODY)
    answer = await st.db.run(st.service.notify, body)
    if answer["queued"] and st.worker is not None:
        st.worker.wake()
    return JSONResponse(answer, status_code=202)


ROUTES: list[tuple[str, Any, list[str]]] = [
    ("/healthz", health, ["GET"]),
    ("/v1/openapi.json", openapi, ["GET"]),
    ("/v1/records", records, ["GET"]),
    ("/v1/records/{id:path}", record, ["GET"]),
    ("/v1/hosts", hosts, ["GET"]),
    ("/v1/hosts/{name}", host, ["GET", "PUT", "DELETE"]),
    ("/v1/check", check, ["GET", "POST"]),
    ("/v1/select", select, ["GET"]),
    ("/v1/matrix", matrix, ["GET"]),
    ("/v1/diff", diff, ["GET"]),
    ("/v1/notifications", notifications, ["GET", "POST"]),
]
"""(path, handler, methods) of the API; :mod:`.app` mounts them."""
