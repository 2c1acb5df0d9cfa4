"""Registry notifications, read into push events (pure: bytes in, events out).

Three payloads are understood:

- **distribution** (``registry:2``, Docker Hub's open-source registry, GitLab's and others built
  on it): the envelope ``{"events": [...]}`` of ``notifications: endpoints:``, media type
  ``application/vnd.docker.distribution.events.v1+json``. Each event has ``action``, ``target``
  (``mediaType``, ``digest``, ``repository``, ``tag``, ``url``) and ``request.host``: the
  registry's name as clients used it.
- **Harbor**, default format: ``{"type": "PUSH_ARTIFACT", "event_data": {"resources": [...],
  "repository": {...}}}``; each resource has ``digest``, ``tag`` and ``resource_url``
  (``HOST/PROJECT/REPO:TAG``).
- **Harbor, CloudEvents** format: ``{"specversion": "1.0", "type": "harbor.artifact.pushed",
  "id": ..., "data": {"resources": [...], "repository": {...}}}``.

Only pushes of manifests and indexes become :class:`PushEvent`\\ s; everything else (pulls,
deletes, blob pushes, scans) is listed as ignored with the reason, never an error: a registry
retries a notification that was not answered 2xx. A payload that is none of the three, or is
not JSON, is a :class:`~nameplate.errors.ServeError` naming the field. Which registries may be
contacted is decided by the caller (:mod:`.api`), not here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ServeError
from ..oci.manifest import INDEX_TYPES, MANIFEST_TYPES
from .config import registry_host

__all__ = ["MAX_BODY", "Notification", "PushEvent", "parse_notification"]

MAX_BODY = 1 << 20
"""The largest notification body read (distribution sends a few KiB per event)."""

MAX_EVENTS = 1000
"""Events read from one envelope; the rest are ignored (and named so)."""

_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPO = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_EVENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

Source = Literal["distribution", "harbor"]


@dataclass(frozen=True, kw_only=True, slots=True)
class PushEvent:
    """A manifest (or index) pushed to ``registry``/``repository``, by digest, maybe tagged."""

    event_id: str
    source: Source
    registry: str
    repository: str
    digest: str
    tag: str | None = None
    media_type: str | None = None

    @property
    def ref(self) -> str:
        """``REGISTRY/REPOSITORY@DIGEST``."""
        return f"{self.registry}/{self.repository}@{self.digest}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Notification:
    """What a payload holds: its push events, and each ignored item with the reason."""

    format: Literal["distribution", "harbor", "harbor-cloudevents"]
    events: tuple[PushEvent, ...]
    ignored: tuple[str, ...]


class _Skip(Exception):
    """An item of a payload that is not a manifest push (or is malformed): its reason."""


def _str(value: Any, where: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise _Skip(f"{where}: {'missing' if value is None else 'not a string'}")
    if len(value) > 2048:
        raise _Skip(f"{where}: too long")
    return value


def _digest(value: Any, where: str) -> str:
    text = _str(value, where) or ""
    if not _DIGEST.match(text):
        raise _Skip(f"{where}: not a sha256/sha512 digest")
    return text


def _repository(value: Any, where: str) -> str:
    text = _str(value, where) or ""
    if len(text) > 255 or not _REPO.match(text):
        raise _Skip(f"{where}: not a repository name")
    return text


def _tag(value: Any, where: str) -> str | None:
    text = _str(value, where, required=False)
    if text is None or _DIGEST.match(text):  # Harbor repeats the digest as the tag
        return None
    if not _TAG.match(text):
        raise _Skip(f"{where}: not a tag")
    return text


def _registry(value: Any, where: str) -> str:
    text = _str(value, where) or ""
    try:
        return registry_host(text)
    except ServeError as exc:
        raise _Skip(f"{where}: not HOST[:PORT]") from exc


def _id(value: Any, fallback: Mapping[str, Any]) -> str:
    if isinstance(value, str) and _EVENT_ID.match(value):
        return value
    blob = json.dumps(fallback, sort_keys=True, default=str).encode()
    return "sha256-" + hashlib.sha256(blob).hexdigest()[:40]


def _url_host(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    m = re.match(r"^https?://([^/?#@]+)/", url)
    return m.group(1) if m else None


def _distribution(events: Any) -> Notification:
    if not isinstance(events, list):
        raise ServeError("events: not a list", field="events")
    out: list[PushEvent] = []
    ignored: list[str] = []
    for i, ev in enumerate(events):
        where = f"events[{i}]"
        if i >= MAX_EVENTS:
            ignored.append(f"events[{MAX_EVENTS}:]: over {MAX_EVENTS} events in one envelope")
            break
        try:
            if not isinstance(ev, dict):
                raise _Skip(f"{where}: not an object")
            action = ev.get("action")
            if action != "push":
                shown = action if isinstance(action, str) and len(action) < 20 else "?"
                raise _Skip(f"{where}: action {shown}, not push")
            target = ev.get("target")
            if not isinstance(target, dict):
                raise _Skip(f"{where}.target: not an object")
            media = _str(target.get("mediaType"), f"{where}.target.mediaType", required=False)
            if media is not None and media not in MANIFEST_TYPES | INDEX_TYPES:
                raise _Skip(f"{where}.target.mediaType: not a manifest or index (a blob)")
            request = ev.get("request")
            host = request.get("host") if isinstance(request, dict) else None
            host = host or _url_host(target.get("url"))
            out.append(
                PushEvent(
                    event_id=_id(ev.get("id"), ev),
                    source="distribution",
                    registry=_registry(host, f"{where}.request.host"),
                    repository=_repository(target.get("repository"), f"{where}.target.repository"),
                    digest=_digest(target.get("digest"), f"{where}.target.digest"),
                    tag=_tag(target.get("tag"), f"{where}.target.tag"),
                    media_type=media,
                )
            )
        except _Skip as why:
            ignored.append(str(why))
    return Notification(format="distribution", events=tuple(out), ignored=tuple(ignored))


def _harbor(
    kind: Any, data: Any, event_id: Any, where: str, fmt: Literal["harbor", "harbor-cloudevents"]
) -> Notification:
    if kind not in ("PUSH_ARTIFACT", "harbor.artifact.pushed"):
        shown = kind if isinstance(kind, str) and len(kind) < 60 else "?"
        return Notification(format=fmt, events=(), ignored=(f"type {shown}: not a push",))
    if not isinstance(data, dict):
        raise ServeError(f"{where}: not an object", field=where)
    resources = data.get("resources")
    if not isinstance(resources, list):
        raise ServeError(f"{where}.resources: not a list", field=f"{where}.resources")
    repo_obj = data.get("repository")
    full = repo_obj.get("repo_full_name") if isinstance(repo_obj, dict) else None
    out: list[PushEvent] = []
    ignored: list[str] = []
    for i, res in enumerate(resources[:MAX_EVENTS]):
        at = f"{where}.resources[{i}]"
        try:
            if not isinstance(res, dict):
                raise _Skip(f"{at}: not an object")
            url = _str(res.get("resource_url"), f"{at}.resource_url") or ""
            host, sep, rest = url.partition("/")
            if not sep:
                raise _Skip(f"{at}.resource_url: not HOST/REPOSITORY[:TAG|@DIGEST]")
            name = re.split(r"[@:]", rest, maxsplit=1)[0]
            fallback = {"type": kind, "resource": res, "id": event_id}
            out.append(
                PushEvent(
                    event_id=_id(
                        f"{event_id}.{i}" if isinstance(event_id, str) else None, fallback
                    ),
                    source="harbor",
                    registry=_registry(host, f"{at}.resource_url"),
                    repository=_repository(full or name, f"{where}.repository.repo_full_name"),
                    digest=_digest(res.get("digest"), f"{at}.digest"),
                    tag=_tag(res.get("tag"), f"{at}.tag"),
                )
            )
        except _Skip as why:
            ignored.append(str(why))
    return Notification(format=fmt, events=tuple(out), ignored=tuple(ignored))


def parse_notification(body: bytes) -> Notification:
    """Read a notification payload (distribution or Harbor, see the module docstring)."""
    if len(body) > MAX_BODY:
        raise ServeError(f"body: over {MAX_BODY} bytes", status=413, field="body")
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ServeError(f"body: not JSON: {exc}", field="body") from exc
    except RecursionError as exc:
        raise ServeError("body: JSON nested too deeply", field="body") from exc
    if not isinstance(doc, dict):
        raise ServeError("body: a notification is a JSON object", field="body")
    if "events" in doc:
        return _distribution(doc["events"])
    if "specversion" in doc:
        return _harbor(
            doc.get("type"), doc.get("data"), doc.get("id"), "data", "harbor-cloudevents"
        )
    if "event_data" in doc or doc.get("type") == "PUSH_ARTIFACT":
        return _harbor(doc.get("type"), doc.get("event_data"), None, "event_data", "harbor")
    raise ServeError(
        "body: neither a distribution envelope (events) nor a Harbor webhook"
        " (event_data, or CloudEvents specversion)",
        field="body",
    )
