"""What the service answers, independent of HTTP: searches, records, checks, selections,
matrices, diffs, host profiles and notifications.

Every method takes the calling thread's :class:`~.db.Session` first and runs on a database
thread (``await db.run(service.method, ...)``); none keeps state between calls but the
content-keyed caches, so replicas agree. Errors are :class:`~nameplate.errors.ServeError`\\ s
with the HTTP status to answer.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from ..compat.catalog import CatalogEntry
from ..compat.profile import Host
from ..compat.report import Report, check
from ..compat.rules import CheckOptions
from ..compat.select import Found, rank
from ..compat.specquery import SpecQuery
from ..errors import ServeError
from ..record import Record
from .cache import Fresh, Memo, RecordCache, fingerprint
from .config import ServeConfig
from .db import Session
from .diff import RecordDiff, diff
from .hosts import ProfileCache, SiteHost, parse_profile, profile_summary, site_hosts
from .notify import parse_notification
from .params import host_name, record_id, repository

__all__ = ["Service", "id_path"]

log = logging.getLogger("nameplate.serve")

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "ppc64le": "ppc64le", "riscv64": "riscv64"}


def id_path(key: str) -> str:
    """A record id as a URL path part: ``/`` ``:`` ``@`` kept for readability, everything else
    escaped; a ``.``/``..``/empty segment (which a browser would fold) escapes the whole id."""
    if any(seg in ("", ".", "..") for seg in key.split("/")):
        return urllib.parse.quote(key, safe="")
    return urllib.parse.quote(key, safe="/:@")


def dumps(data: Any) -> bytes:
    """Compact JSON, as Starlette's ``JSONResponse`` writes it."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def links(key: str) -> dict[str, str]:
    """Where a record is, in the API and on the pages."""
    path = id_path(key)
    return {"self": f"/v1/records/{path}", "page": f"/records/{path}"}


@dataclass(frozen=True, kw_only=True, slots=True)
class Checked:
    """A check: the record's id and the host's name, and the report."""

    record: str
    host: str
    report: Report
    key: Hashable = None

    def to_dict(self) -> dict[str, Any]:
        """JSON data (``GET /v1/check``)."""
        return {**self.report.to_dict(), "record": self.record, "host": self.host}


class Service:
    """The answers, over one catalog and the site's host profiles."""

    def __init__(self, config: ServeConfig, files: Mapping[str, SiteHost]) -> None:
        self.config = config
        self.files = dict(files)
        self.records = RecordCache(config.cache_bytes)
        self.profiles = ProfileCache()
        self.reports: Memo[Report] = Memo(20_000)
        self.answers: Memo[Any] = Memo(2_000)
        self.encoded: Memo[bytes] = Memo(5_000)
        self.matches: Fresh[Any] = Fresh(config.query_ttl)

    def report(self, entry: CatalogEntry, site: SiteHost, mpi_mode: str | None = None) -> Report:
        """The check of ``entry`` on ``site``, computed once per content of both."""
        return self.reports.get(
            (fingerprint(entry), site.fingerprint, mpi_mode),
            lambda: check(
                self.records.record(entry), site.host, options=CheckOptions(mpi_mode=mpi_mode)
            ),
        )

    # -- records --------------------------------------------------------------------------------

    def summary(self, entry: CatalogEntry) -> dict[str, Any]:
        """A record's summary with its links."""
        return {**self.records.summary(entry), "links": links(entry.key)}

    def found(
        self, s: Session, q: SpecQuery | None, limit: int, any_node: bool = False
    ) -> list[CatalogEntry]:
        """Entries matching ``q`` (every record when None), newest first: records whose root
        matches, or that hold a matching component with ``any_node`` (as ``nameplate query``);
        the same query within ``config.query_ttl`` seconds is answered from the last run
        (results are at most that old)."""
        found: list[CatalogEntry]
        if q is None:
            found = self.matches.get(("recent", limit), lambda: s.catalog.recent(limit))
        else:
            found = self.matches.get(
                ("query", q.text, limit, any_node),
                lambda: s.catalog.query(q, limit=limit, any_node=any_node),
            )
        return found

    def in_repository(self, s: Session, repo: str) -> list[CatalogEntry]:
        """The entries of a repository, newest first (reused for ``config.query_ttl`` seconds,
        as the matches of a search)."""
        found: list[CatalogEntry] = self.matches.get(
            ("repository", repo), lambda: s.catalog.in_repository(repo)
        )
        return found

    def search(
        self, s: Session, q: SpecQuery | None, limit: int, any_node: bool = False
    ) -> list[dict[str, Any]]:
        """Summaries of the records matching ``q``, newest first."""
        return [self.summary(e) for e in self.found(s, q, limit, any_node)]

    def count(self, s: Session) -> int:
        """How many records the catalog holds."""
        total: int = self.matches.get(("count",), lambda: s.catalog.count())  # noqa: PLW0108 - s.catalog is read only on a miss
        return total

    def entry(self, s: Session, rid: str, field: str = "id") -> CatalogEntry:
        """The catalog entry ``rid`` (404 when there is none)."""
        rid = record_id(rid, field)
        found: CatalogEntry | None = self.matches.get(("get", rid), lambda: s.catalog.get(rid))
        if found is None:
            raise ServeError(
                f"{field}: no record {rid[:200]!r} in the catalog", status=404, field=field
            )
        return found

    def record(self, s: Session, rid: str, field: str = "id") -> tuple[CatalogEntry, Record]:
        """The entry ``rid`` and its parsed record."""
        e = self.entry(s, rid, field)
        return e, self.records.record(e)

    def export(self, s: Session, rid: str, fmt: str) -> tuple[CatalogEntry, bytes]:
        """The entry ``rid`` and its record in export format ``fmt``."""
        from .. import formats

        entry, record = self.record(s, rid)
        return entry, formats.encode(record, fmt)

    def by_ref(self, s: Session, ref: str, platform: str | None, host: Host | None) -> CatalogEntry:
        """The entry of an indexed reference: ``REGISTRY/REPO@DIGEST`` (its key), or
        ``REGISTRY/REPO:TAG`` (the manifest of ``platform``, else of the host's architecture,
        else the newest)."""
        ref = record_id(ref, "ref")
        if "@" in ref:
            return self.entry(s, ref, "ref")
        repo, sep, tag = ref.rpartition(":")
        if not sep or "/" in tag:
            raise ServeError(f"ref: {ref[:200]!r} is not REGISTRY/REPO:TAG or @DIGEST", field="ref")
        hits = [e for e in self.in_repository(s, repository(repo, "ref")) if e.tag == tag]
        if not hits:
            raise ServeError(f"ref: {ref[:200]!r} is not in the catalog", status=404, field="ref")
        if platform:
            hits = [e for e in hits if e.platform == platform]
            if not hits:
                raise ServeError(
                    f"platform: {ref} has no {platform!r} manifest", status=404, field="platform"
                )
        elif len(hits) > 1 and host is not None and host.cpu.family in _ARCH:
            arch = _ARCH[host.cpu.family]
            hits = [e for e in hits if e.platform and e.platform.split("/")[1:2] == [arch]] or hits
        return hits[0]

    # -- host profiles --------------------------------------------------------------------------

    def hosts(self, s: Session) -> dict[str, SiteHost]:
        """Every site host profile, by name."""
        return site_hosts(self.files, s.store.hosts(), self.profiles)

    def host(self, s: Session, name: str, field: str = "host") -> SiteHost:
        """The profile ``name`` (404 when there is none)."""
        name = host_name(name, field)
        if name in self.files:
            return self.files[name]
        text = s.store.host(name)
        if text is None:
            raise ServeError(f"{field}: no host profile {name!r}", status=404, field=field)
        return SiteHost(name=name, host=self.profiles.host(name, text), source="api")

    def put_host(self, s: Session, name: str, body: bytes) -> tuple[bool, dict[str, Any]]:
        """Register ``name``; (created, its summary)."""
        name = host_name(name, "name")
        if name in self.files:
            raise ServeError(
                f"name: {name!r} is defined by a file of --hosts", status=409, field="name"
            )
        host, text = parse_profile(body, name)
        created = s.store.put_host(name, text)
        log.info("host profile %s %s", name, "registered" if created else "replaced")
        return created, profile_summary(SiteHost(name=name, host=host, source="api"))

    def delete_host(self, s: Session, name: str) -> None:
        """Remove the registered profile ``name``."""
        name = host_name(name, "name")
        if name in self.files:
            raise ServeError(
                f"name: {name!r} is defined by a file of --hosts", status=409, field="name"
            )
        if not s.store.delete_host(name):
            raise ServeError(f"name: no host profile {name!r}", status=404, field="name")
        log.info("host profile %s removed", name)

    # -- compatibility --------------------------------------------------------------------------

    def check(
        self,
        s: Session,
        *,
        record: str | None,
        ref: str | None,
        platform: str | None,
        host: str | None,
        profile: Host | None = None,
        mpi_mode: str | None = None,
    ) -> Checked:
        """The report of a record (by id, or an indexed reference) on a named host or a
        profile given inline."""
        if (record is None) == (ref is None):
            raise ServeError("record, ref: give exactly one of them", field="record")
        if profile is not None:
            site = SiteHost(name=profile.name or "posted", host=profile, source="api")
        else:
            site = self.host(s, host or "")
        entry = (
            self.entry(s, record, "record")
            if record is not None
            else self.by_ref(s, ref or "", platform, site.host)
        )
        report = self.report(entry, site, mpi_mode)
        return Checked(
            record=entry.key,
            host=site.name,
            report=report,
            key=(fingerprint(entry), site.name, site.fingerprint, mpi_mode),
        )

    def check_json(self, s: Session, **args: Any) -> bytes:
        """:meth:`check` as the JSON bytes of the answer, encoded once per content."""
        checked = self.check(s, **args)
        return self.encoded.get(("check", checked.key), lambda: dumps(checked.to_dict()))

    def _selection(
        self, s: Session, repo: str, host: str, mpi_mode: str | None
    ) -> tuple[Hashable, Callable[[], dict[str, Any]]]:
        """The content key of a selection, and how to compute it."""
        repo = repository(repo)
        site = self.host(s, host)
        newest: dict[tuple[str | None, str | None], CatalogEntry] = {}
        for e in self.in_repository(s, repo):  # newest first: keep one per tag and platform
            newest.setdefault((e.tag, e.platform), e)
        if not newest:
            raise ServeError(
                f"repository: no records of {repo!r} in the catalog", status=404, field="repository"
            )
        key = (repo, tuple(fingerprint(e) for e in newest.values()), site.fingerprint, mpi_mode)

        def ranked() -> dict[str, Any]:
            found = [
                Found(
                    ref=e.ref or e.key,
                    tag=e.tag or "",
                    digest=(e.ref or e.key).rpartition("@")[2],
                    platform=e.platform,
                    record=self.records.record(e),
                )
                for e in newest.values()
            ]
            chosen = rank(found, site.host, options=CheckOptions(mpi_mode=mpi_mode))
            return {"repository": repo, "host": site.name, **chosen.to_dict()}

        return key, ranked

    def select(self, s: Session, repo: str, host: str, mpi_mode: str | None) -> dict[str, Any]:
        """Rank the indexed tags of ``repo`` for the host ``host``."""
        key, ranked = self._selection(s, repo, host, mpi_mode)
        result: dict[str, Any] = self.answers.get(key, ranked)
        return result

    def select_json(self, s: Session, repo: str, host: str, mpi_mode: str | None) -> bytes:
        """:meth:`select` as the JSON bytes of the answer, encoded once per content."""
        key, ranked = self._selection(s, repo, host, mpi_mode)
        return self.encoded.get(("select", key), lambda: dumps(self.answers.get(key, ranked)))

    def matrix(
        self, s: Session, q: SpecQuery | None, limit: int, any_node: bool = False
    ) -> tuple[list[str], list[tuple[dict[str, Any], list[Report]]]]:
        """The records of ``q`` × every host profile: names, and per record its reports."""
        sites = self.hosts(s)
        found = self.found(s, q, limit, any_node)
        rows = [(self.summary(e), [self.report(e, h) for h in sites.values()]) for e in found]
        return list(sites), rows

    def diff(self, s: Session, a: str, b: str) -> tuple[CatalogEntry, CatalogEntry, RecordDiff]:
        """Records ``a`` and ``b`` and what changed from one to the other."""
        ea, ra = self.record(s, a, "a")
        eb, rb = self.record(s, b, "b")
        return ea, eb, diff(ra, rb)

    # -- notifications --------------------------------------------------------------------------

    def notify(self, s: Session, body: bytes) -> dict[str, Any]:
        """Queue the pushes of configured registries in a notification."""
        note = parse_notification(body)
        ignored = list(note.ignored)
        wanted = []
        for ev in note.events:
            if ev.registry in self.config.registries:
                wanted.append(ev)
            else:
                ignored.append(f"{ev.ref}: registry {ev.registry} is not configured (--registry)")
        queued = s.store.enqueue(wanted) if wanted else 0
        log.info(
            "notification (%s): %d queued, %d already seen, %d ignored",
            note.format,
            queued,
            len(wanted) - queued,
            len(ignored),
        )
        for why in ignored:
            log.debug("notification item ignored: %s", why)
        return {
            "format": note.format,
            "accepted": len(wanted),
            "queued": queued,
            "ignored": ignored,
        }

    def events(self, s: Session, limit: int) -> list[dict[str, Any]]:
        """The newest queued notifications."""
        return s.store.events(limit)
