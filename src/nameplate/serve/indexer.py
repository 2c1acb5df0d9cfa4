"""Indexing on push: the worker that turns queued registry notifications into catalog entries.

For a pushed manifest it finds the *subject* whose records to read:

- a nameplate record artifact (a manifest with ``subject``): that subject;
- the referrers fallback index (tag ``sha256-<hex>``): the subject the tag names;
- an image manifest or index: itself (an index: each platform manifest);
- other referrers (SBOM exports) and ``nameplate-ref-*`` bookkeeping tags: nothing.

It then pulls the newest record attached to each manifest (through :mod:`nameplate.oci`, as
``nameplate pull`` does, counting the record artifact the event itself pushed: a registry may
notify a push before the tag it writes is readable, so nothing an event names is read through
a tag) and writes one catalog entry per manifest, keyed ``REGISTRY/REPO@DIGEST``
with the tag and platform it is known under. Tags come from the notifications themselves (kept in
the service's ``serve_tags``) or, for an image pushed before the service listened, from the
registry's tag list. Only registries named by ``--registry`` are ever contacted; an event of any
other registry is never queued, and is refused here again if one was.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from .. import oci
from ..compat.catalog import Catalog, Entry
from ..errors import CatalogError, NameplateError, RegistryError
from ..oci import manifest as m
from .config import ServeConfig
from .notify import PushEvent
from .store import MAX_ATTEMPTS, QueuedEvent, Store

__all__ = ["IndexWorker", "index_event"]

log = logging.getLogger("nameplate.serve")

_FALLBACK_TAG = re.compile(r"^(sha256|sha512)-([a-f0-9]{64}|[a-f0-9]{128})$")
PRUNE_EVERY = 600.0
"""Seconds between two clean-ups of the queue."""

KEEP_EVENTS = 7 * 86400.0
"""Finished events are kept a week (``GET /v1/notifications``), then forgotten."""

_MAX_TAGS = 200
"""Tags resolved when an image's tag is not known from a notification."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """What indexing one event did: ``done`` or ``ignored``, and a line for operators."""

    state: str
    detail: str


def _platform(desc: m.Descriptor) -> str:
    p = desc.platform or {}
    parts = [p.get(k) for k in ("os", "architecture", "variant")]
    return "/".join(str(x) for x in parts if isinstance(x, str) and x)


def _children(man: m.ResolvedManifest, where: str) -> list[tuple[str, str]]:
    """``(digest, platform)`` of the platform manifests of an index (attestations skipped)."""
    return [
        (d.digest, _platform(d))
        for d in m.index_descriptors(man.json, where=where)
        if d.media_type in m.MANIFEST_TYPES
        and d.platform
        and d.annotations.get("vnd.docker.reference.type") != "attestation-manifest"
    ]


class _Resolver(Protocol):
    def resolve(self, reference: str) -> m.ResolvedManifest:
        """The manifest a tag or digest names."""
        ...


def _learn_tags(st: _Resolver, ev: PushEvent, store: Store, transport: oci.Transport) -> None:
    base = f"{ev.registry}/{ev.repository}"
    for tag in oci.list_tags(base, transport=transport)[:_MAX_TAGS]:
        man = st.resolve(tag)
        found = [(man.digest, "")]
        if man.is_index:
            found += _children(man, f"{base}:{tag}")
        store.set_tag(ev.registry, ev.repository, tag, found)


def index_event(
    ev: PushEvent, *, catalog: Catalog, store: Store, config: ServeConfig, transport: oci.Transport
) -> Outcome:
    """Index the records of the image that ``ev`` pushed (or attached a record to)."""
    if ev.registry not in config.registries:
        return Outcome(state="ignored", detail=f"{ev.registry}: not a configured registry")
    base = f"{ev.registry}/{ev.repository}"
    if ev.tag and ev.tag.startswith(oci.REINDEX_TAG_PREFIX):
        return Outcome(state="ignored", detail=f"{base}:{ev.tag}: a bookkeeping tag")
    st, _ = oci.open_store(f"{base}@{ev.digest}", transport=transport)
    # A registry may notify a tagged push before the tag is written (distribution 2.8 does):
    # what the event pushed is read by its digest, never through its tag.
    man = st.resolve(ev.digest)
    doc = man.json
    fallback = _FALLBACK_TAG.match(ev.tag or "")
    pushed: list[m.Descriptor] = []  # the record artifacts this event itself carries
    subj = doc.get("subject")
    if fallback:
        subject = f"{fallback.group(1)}:{fallback.group(2)}"
        pushed = [
            d for d in m.index_descriptors(doc, where=ev.ref) if d.artifact_type in m.RECORD_TYPES
        ]
    elif isinstance(subj, dict) and isinstance(subj.get("digest"), str):
        if m.artifact_type_of(doc) not in m.RECORD_TYPES:
            return Outcome(state="ignored", detail=f"{ev.ref}: a referrer, not a record")
        subject = m.check_digest(subj["digest"], where=f"{ev.ref}: subject")
        pushed = [
            man.descriptor(
                artifact_type=m.artifact_type_of(doc),
                annotations=dict(doc.get("annotations") or {}),
            )
        ]
    else:
        subject = ev.digest
        if ev.tag:
            found = [(man.digest, "")]
            if man.is_index:
                found += _children(man, ev.ref)
            store.set_tag(ev.registry, ev.repository, ev.tag, found)
    target = man if subject == ev.digest else st.resolve(subject)
    manifests = _children(target, f"{base}@{subject}") if target.is_index else []
    manifests = manifests or [(subject, "")]
    entries: list[Entry] = []
    learnt = False
    for digest, platform in manifests:
        ref = f"{base}@{digest}"
        listed = oci.discover(ref, artifact_type=oci.ARTIFACT_TYPE, transport=transport)
        extra = pushed if digest == subject else []
        unique = {d.digest: d for d in [*listed, *extra]}
        records = sorted(unique.values(), key=lambda d: (d.created, d.digest))
        if not records:
            continue
        record = oci.pull(base, digest=records[-1].digest, transport=transport)
        tags = store.tags_of(ev.registry, ev.repository, digest)
        if not tags and not learnt:
            _learn_tags(st, ev, store, transport)
            learnt = True
            tags = store.tags_of(ev.registry, ev.repository, digest)
        tag, seen_platform = tags[0] if tags else (None, "")
        entries.append(
            Entry(
                record=record,
                ref=ref,
                repository=base,
                tag=tag,
                platform=platform or seen_platform or None,
            )
        )
    if not entries:
        return Outcome(state="done", detail=f"{base}@{subject}: no record attached (yet)")
    catalog.add_many(entries)
    names = ", ".join(f"{e.record.subject.name}@{e.tag or e.ref}" for e in entries)
    return Outcome(state="done", detail=f"indexed {len(entries)}: {names}")


class IndexWorker(threading.Thread):
    """A background thread that claims queued events and indexes them, one at a time.

    Each replica runs one; ``wake()`` makes it look at the queue at once (after a notification
    was queued), otherwise it looks every ``config.poll`` seconds, so an event queued by another
    replica is indexed too. A registry error is retried with backoff (2, 4, 8... s), up to
    :data:`~.store.MAX_ATTEMPTS`.
    """

    def __init__(self, config: ServeConfig) -> None:
        super().__init__(name="np-indexer", daemon=True)
        self.config = config
        self.transport = oci.Transport(
            plain_http=config.plain_http, ca_file=config.ca_file, credentials=config.credentials
        )
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._catalog: Catalog | None = None
        self._store: Store | None = None

    def wake(self) -> None:
        """Look at the queue now."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the event at hand and stop."""
        self._halt.set()
        self._wake.set()

    def _connect(self) -> tuple[Catalog, Store]:
        if self._catalog is None or self._store is None:
            self._catalog = Catalog.open(self.config.catalog)
            self._store = Store.open(self.config.catalog)
        return self._catalog, self._store

    def _disconnect(self) -> None:
        for conn in (self._catalog, self._store):
            if conn is not None:
                with contextlib.suppress(Exception):  # closing a broken connection
                    conn.close()
        self._catalog = self._store = None

    def step(self) -> bool:
        """Index one queued event; False when the queue had none."""
        catalog, store = self._connect()
        claimed = store.claim()
        if claimed is None:
            return False
        self._handle(claimed, catalog, store)
        return True

    def _handle(self, q: QueuedEvent, catalog: Catalog, store: Store) -> None:
        ev = q.event
        try:
            out = index_event(
                ev, catalog=catalog, store=store, config=self.config, transport=self.transport
            )
        except (RegistryError, CatalogError) as exc:
            if q.attempts >= MAX_ATTEMPTS or isinstance(exc, CatalogError):
                log.warning("indexing %s failed: %s", ev.ref, exc)
                store.finish(q.id, "failed", str(exc))
            else:
                delay = 2.0**q.attempts
                log.info("indexing %s: %s (retry in %.0f s)", ev.ref, exc, delay)
                store.finish(q.id, "pending", str(exc), retry_in=delay)
            return
        except NameplateError as exc:  # an invalid record, a malformed manifest
            log.warning("indexing %s: %s", ev.ref, exc)
            store.finish(q.id, "failed", str(exc))
            return
        log.info("notification %s: %s", ev.ref, out.detail)
        store.finish(q.id, out.state, out.detail)

    def run(self) -> None:  # pragma: no cover - exercised through the service tests
        """Index queued events until stopped; a lost connection is opened again."""
        pruned = 0.0
        while not self._halt.is_set():
            try:
                while not self._halt.is_set() and self.step():
                    pass
                if time.monotonic() - pruned > PRUNE_EVERY:
                    pruned = time.monotonic()
                    self._connect()[1].prune(KEEP_EVENTS)
            except NameplateError as exc:
                log.warning("the notification queue is unreachable: %s", exc)
                self._disconnect()
            except Exception:
                log.exception("indexer error")
                self._disconnect()
            self._wake.wait(self.config.poll)
            self._wake.clear()
        self._disconnect()
