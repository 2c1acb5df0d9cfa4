"""Server-rendered pages: search, record, compatibility matrix, diff, hosts.

Plain HTML forms and links, no script (the Content-Security-Policy allows none): every page
works in any browser, a terminal browser included, and stays small on a slow link (one cached
stylesheet, gzip). Pages are rendered on a database thread, from Jinja2 templates with
autoescaping on, so every string from a record is printed as text.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from .. import formats
from .._version import __version__
from . import params
from .cache import fingerprint
from .db import Session
from .hosts import profile_summary
from .service import links
from .views import MAX_TREE, cell, downloads, matrix_rows, record_view

if TYPE_CHECKING:
    from .state import State

__all__ = ["ROUTES", "STYLESHEET", "environment", "render_error"]

EXAMPLES = ("hdf5 +mpi ^openmpi", "hypre ^cuda@12:", "target=icelake:", "zlib-ng@2.3:")

STYLESHEET = resources.files("nameplate.serve").joinpath("static/nameplate.css").read_bytes()
_CSS_VERSION = hashlib.sha256(STYLESHEET).hexdigest()[:12]


def environment() -> Environment:
    """The template environment: autoescaping everywhere, undefined names are errors."""
    env = Environment(
        loader=PackageLoader("nameplate.serve", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(version=__version__, css_version=_CSS_VERSION, q="", page="")
    return env


def _state(request: Request) -> State:
    state: State = request.app.state.np
    return state


def _html(text: str, status: int = 200) -> Response:
    return HTMLResponse(text, status_code=status, headers={"Cache-Control": "no-cache"})


async def search(request: Request) -> Response:
    """``GET /?q=SPEC``."""
    st = _state(request)
    p = params.params_of(request.query_params.multi_items(), ("q", "limit", "any_node"))
    q = params.spec(p)
    limit = params.limit(p, default=50, most=500)
    any_node = params.flag(p, "any_node")

    def render(s: Session) -> str:
        found = st.service.found(s, q, limit, any_node)
        total = None if q is not None else st.service.count(s)
        shown = tuple(fingerprint(e) for e in found)
        key = ("search", q.text if q else "", any_node, limit, total, shown)
        return st.pages.get(
            key,
            lambda: st.env.get_template("search.html").render(
                page="search",
                q=q.text if q else "",
                any_node=any_node,
                results=[st.service.summary(e) for e in found],
                total=total,
                limit=limit,
                examples=EXAMPLES,
            ),
        )

    return _html(await st.db.answer(render))


async def record(request: Request) -> Response:
    """``GET /records/{id}``."""
    st = _state(request)
    params.params_of(request.query_params.multi_items(), ())
    rid = params.record_id(request.path_params["id"])

    def render(s: Session) -> str:
        entry = st.service.entry(s, rid)
        sites = st.service.hosts(s)
        key = ("record", fingerprint(entry), tuple(h.fingerprint for h in sites.values()))

        def page() -> str:
            rec = st.service.records.record(entry)
            checks = [(n, cell(st.service.report(entry, h))) for n, h in sites.items()]
            return st.env.get_template("record.html").render(
                page="record",
                entry=entry,
                v=record_view(rec),
                checks=checks,
                downloads=downloads(formats.MEDIA_TYPES, formats.EXTENSIONS),
                self_url=links(entry.key)["self"],
                max_tree=MAX_TREE,
            )

        return st.pages.get(key, page)

    return _html(await st.db.answer(render))


async def matrix(request: Request) -> Response:
    """``GET /matrix?q=SPEC``."""
    st = _state(request)
    p = params.params_of(request.query_params.multi_items(), ("q", "limit", "any_node"))
    q = params.spec(p)
    limit = params.limit(p, default=25, most=100)
    any_node = params.flag(p, "any_node")

    def render(s: Session) -> str:
        found = st.service.found(s, q, limit, any_node)
        sites = st.service.hosts(s)
        key = (
            "matrix",
            q.text if q else "",
            any_node,
            limit,
            tuple(fingerprint(e) for e in found),
            tuple(h.fingerprint for h in sites.values()),
        )

        def page() -> str:
            rows = [
                (st.service.summary(e), [st.service.report(e, h) for h in sites.values()])
                for e in found
            ]
            return st.env.get_template("matrix.html").render(
                page="matrix",
                q=q.text if q else "",
                any_node=any_node,
                hosts=list(sites),
                rows=matrix_rows(rows),
                limit=limit,
            )

        return st.pages.get(key, page)

    return _html(await st.db.answer(render))


async def diff(request: Request) -> Response:
    """``GET /diff?a=ID&b=ID``."""
    st = _state(request)
    p = params.params_of(request.query_params.multi_items(), ("a", "b"))
    a, b = p.get("a") or None, p.get("b") or None

    def render(s: Session) -> str:
        ctx: dict[str, Any] = {"page": "diff", "a": a, "b": b, "d": None}
        if a and b:
            ea, eb, d = st.service.diff(s, a, b)
            ctx.update(d=d, ra=ea, rb=eb, la=links(ea.key), lb=links(eb.key))
        return st.env.get_template("diff.html").render(**ctx)

    return _html(await st.db.answer(render))


async def hosts(request: Request) -> Response:
    """``GET /hosts``."""
    st = _state(request)
    params.params_of(request.query_params.multi_items(), ())

    def render(s: Session) -> str:
        sites = st.service.hosts(s)
        return st.env.get_template("hosts.html").render(
            page="hosts", hosts=[profile_summary(h) for h in sites.values()]
        )

    return _html(await st.db.answer(render))


async def stylesheet(request: Request) -> Response:
    """``GET /static/nameplate.css`` (cached for a year: its URL carries its hash)."""
    return Response(
        STYLESHEET,
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


def render_error(env: Environment, status: int, reason: str, message: str) -> str:
    """The HTML of an error page (the message escaped like everything else)."""
    return env.get_template("error.html").render(status=status, reason=reason, message=message)


ROUTES: list[tuple[str, Any, list[str]]] = [
    ("/", search, ["GET"]),
    ("/records/{id:path}", record, ["GET"]),
    ("/matrix", matrix, ["GET"]),
    ("/diff", diff, ["GET"]),
    ("/hosts", hosts, ["GET"]),
    ("/static/nameplate.css", stylesheet, ["GET"]),
]
"""(path, handler, methods) of the pages; :mod:`.app` mounts them."""
