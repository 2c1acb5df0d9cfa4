"""Referrers of a subject in a registry repository: the referrers API with ``Link`` paging,
unioned with the ``sha256-<hex>`` tag-schema fallback index, which :class:`Repository` maintains
by read-modify-write, verified and retried, under a per-subject lock; and ``reindex``, which
rebuilds that index from the tags given to each artifact written through the fallback."""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

from ...errors import RegistryError
from .. import manifest as m
from ..manifest import Descriptor
from .repository import RepositoryBase
from .transport import follow

__all__ = ["REINDEX_TAG_PREFIX", "Repository", "is_internal_tag"]

#: Tag given to each artifact written through the fallback, so ``reindex`` can find it again
#: race-free with ``tags/list``: ``nameplate-ref-<subject hex>-<artifact hex[:32]>``.
REINDEX_TAG_PREFIX = "nameplate-ref-"

_SUBJECT_LOCKS: dict[tuple[str, str, str], threading.Lock] = {}
_SUBJECT_LOCKS_LOCK = threading.Lock()


def is_internal_tag(tag: str) -> bool:
    """True for referrers bookkeeping tags (``sha256-<hex>``, ``nameplate-ref-...``) and cosign's
    signature and attestation tags (``sha256-<hex>.sig``, ``.att``, ``.sbom``)."""
    return bool(
        re.match(r"^(sha256|sha512)-[a-f0-9]{64,128}(\.(sig|att|sbom))?$", tag)
    ) or tag.startswith(REINDEX_TAG_PREFIX)


def _known(descs: list[Descriptor]) -> list[Descriptor]:
    """Referrer entries we can read (unknown media types are skipped, not fatal)."""
    return [d for d in descs if d.media_type in m.MANIFEST_TYPES | m.INDEX_TYPES]


class Repository(RepositoryBase):
    """One repository of a registry, as a :class:`~nameplate.oci._store.Store`: blobs,
    manifests and tags, and the referrers of each subject."""

    def put_manifest(self, data: bytes, media_type: str, *, tag: str | None = None) -> Descriptor:
        """PUT the exact bytes by digest (and tag); keep the fallback index of a subject."""
        desc, doc, resp = self._put_manifest(data, media_type, tag=tag)
        subject = m.subject_of(doc)
        if subject is not None and resp.header("oci-subject") != subject:
            entry = replace(
                desc,
                artifact_type=m.artifact_type_of(doc),
                annotations=dict(doc.get("annotations") or {}),
            )
            if self.registry.transport.reindex_tags:
                self._put(self._reindex_tag(subject, desc.digest), data, media_type)
            self._add_to_fallback(subject, entry)
        return desc

    def _referrers_api(self, subject: str) -> list[Descriptor] | None:
        out: list[Descriptor] = []
        path: str | None = f"/v2/{self.name}/referrers/{subject}"
        seen: set[str] = set()
        first = True
        while path:
            resp = self.registry.request(
                "GET", path, scopes=self._pull, headers={"Accept": m.INDEX}
            )
            if resp.status in (400, 404, 405) and first:
                return None  # no referrers API: use the tag schema
            if resp.status != 200:
                raise self._fail(f"GET referrers {subject}", resp)
            first = False
            doc = m.parse_manifest(resp.body, where=f"{self} referrers of {subject}")
            out.extend(_known(m.index_descriptors(doc, where=f"{self} referrers")))
            path = follow(
                resp.header("link"),
                path,
                host=self.registry.host,
                seen=seen,
                where=f"{self} referrers of {subject}",
            )
        return out

    def _fallback(self, subject: str) -> tuple[list[Descriptor], str | None]:
        tag = m.referrers_tag(subject)
        found = self.get_manifest(tag)
        if found is None:
            return [], None
        if not found.is_index:
            raise RegistryError(
                f"{self}:{tag}: the referrers tag does not name an image index; not overwriting it"
            )
        return m.index_descriptors(found.json, where=f"{self}:{tag}"), None

    def _complete(self, desc: Descriptor) -> Descriptor:
        if desc.artifact_type and desc.artifact_type != m.EMPTY_TYPE and desc.annotations:
            return desc
        found = self.get_manifest(desc.digest)  # verified against the digest
        if found is None:
            raise RegistryError(
                f"{self}: referrer {desc.digest} is listed but its manifest is missing "
                f"(run 'nameplate reindex' on its subject to drop it)"
            )
        doc = found.json
        return replace(
            desc,
            artifact_type=m.artifact_type_of(doc) or desc.artifact_type,
            annotations=dict(doc.get("annotations") or {}) or desc.annotations,
        )

    def referrers(self, subject: str) -> list[Descriptor]:
        """API ∪ fallback index, deduplicated by digest; types and annotations filled in."""
        api = self._referrers_api(subject)
        tagged, _ = self._fallback(subject)
        seen: dict[str, Descriptor] = {}
        for desc in [*(api or []), *_known(tagged)]:
            if desc.digest not in seen:
                seen[desc.digest] = self._complete(desc)
        return list(seen.values())

    @staticmethod
    def _reindex_tag(subject: str, artifact: str) -> str:
        subject_hex, artifact_hex = subject.partition(":")[2], artifact.partition(":")[2]
        return f"{REINDEX_TAG_PREFIX}{subject_hex[:64]}-{artifact_hex[:32]}"

    @contextlib.contextmanager
    def _subject_lock(self, subject: str) -> Iterator[None]:
        key = (self.registry.host, self.name, subject)
        with _SUBJECT_LOCKS_LOCK:
            lock = _SUBJECT_LOCKS.setdefault(key, threading.Lock())
        with lock:
            yield

    def _tagged(self, subject: str, known: set[str]) -> list[Descriptor]:
        """Referrers of ``subject`` that carry a reindex tag but are not among ``known`` (digest
        prefixes of 32 hex digits, as the tags hold them): what a concurrent writer added."""
        prefix = f"{REINDEX_TAG_PREFIX}{subject.partition(':')[2][:64]}-"
        out: list[Descriptor] = []
        for tag in self.tags():
            if not tag.startswith(prefix) or tag[len(prefix) :] in known:
                continue
            man = self.get_manifest(tag)
            if man is None:
                continue  # deleted since it was listed
            doc = man.json
            if m.subject_of(doc) != subject:
                continue
            out.append(
                man.descriptor(
                    artifact_type=m.artifact_type_of(doc),
                    annotations=dict(doc.get("annotations") or {}),
                )
            )
        return out

    def _add_to_fallback(self, subject: str, entry: Descriptor) -> None:
        """Add ``entry`` to the ``sha256-<hex>`` index of ``subject``, converging under
        concurrent writers on a registry that cannot compare-and-swap (distribution ignores
        ``If-Match``).

        Each round reads the index and the reindex tags (every writer tags its artifact before
        it writes the index), writes the union when anything is missing, and waits a random
        while; it ends when a read finds our entry *and* every tagged referrer listed. The
        last write of all is then complete: a referrer tagged before its writer's check is
        seen by that check, and one tagged later belongs to a writer that writes later. Bounded
        by ``Transport.fallback_attempts`` rounds."""
        tag = m.referrers_tag(subject)
        transport = self.registry.transport
        with self._subject_lock(subject):
            for attempt in range(transport.fallback_attempts):
                current, _ = self._fallback(subject)
                known = {d.digest.partition(":")[2][:32] for d in current}
                missing = [] if entry.digest.partition(":")[2][:32] in known else [entry]
                if transport.reindex_tags and transport.verify_fallback:
                    known.add(entry.digest.partition(":")[2][:32])
                    missing.extend(self._tagged(subject, known))
                if not missing:
                    return
                self._put(tag, m.empty_index([*current, *missing]), m.INDEX)
                if not transport.verify_fallback:
                    return
                time.sleep(random.uniform(0.005, 0.025) * 2 ** min(attempt, 4))  # noqa: S311
        raise RegistryError(
            f"{self}: referrer {entry.digest} of {subject} kept being overwritten by concurrent "
            f"writers; run 'nameplate reindex {self}@{subject}'"
        )

    def reindex(self, subject: str) -> int:
        """Rebuild the fallback index from the reindex tags, the API and the current index."""
        prefix = f"{REINDEX_TAG_PREFIX}{subject.partition(':')[2][:64]}-"
        found: dict[str, Descriptor] = {}
        for desc in self._referrers_api(subject) or []:
            found[desc.digest] = desc
        with self._subject_lock(subject):
            current, _ = self._fallback(subject)
            for desc in current:
                if desc.digest not in found and self.has_manifest(desc.digest):
                    found[desc.digest] = desc
            for tag in self.tags():
                if not tag.startswith(prefix):
                    continue
                man = self.get_manifest(tag)
                if man is None or man.digest in found:
                    continue
                doc = man.json
                if m.subject_of(doc) != subject:
                    continue
                found[man.digest] = man.descriptor(
                    artifact_type=m.artifact_type_of(doc),
                    annotations=dict(doc.get("annotations") or {}),
                )
            entries = [self._complete(d) for d in found.values()]
            self._put(m.referrers_tag(subject), m.empty_index(entries), m.INDEX)
        return len(entries)
