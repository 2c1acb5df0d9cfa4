"""Records (optionally signed) for every spec image of a Spack OCI build cache.

``spack buildcache push`` writes one image per spec to an OCI registry, tagged
``<name>-<version>-<dag hash>.spack`` (longer tags are cut as Spack cuts them), whose config
embeds the concrete spec of the whole DAG; the tag ``index.spack`` holds the cache's index.
:func:`attach_cache` gives each spec image the full record of its spec (read as ``nameplate
extract image`` reads a spec image: the DAG from the config, Spack's SBOM and build environment
from the ``.spack/`` of the root's own install tarball, streamed and checked against its digest;
a tarball that cannot be read is an unknown of the record), attached as a referrer, and signed
when a key is given. It is idempotent: a spec image that already has a record of its spec is
left alone (and only signed, when it has no signature of this key yet), so a second run
attaches nothing.

Spack is not disturbed: nothing of Spack's is rewritten (its manifests, tags and
``index.spack`` stay byte for byte); referrers go through the referrers API, or the
``sha256-<hex>`` fallback tags, which Spack's ``update-index`` ignores (it reads only tags that
look like spec tags).

Everything is planned first (configs read, records built, statements signed), then pushed: a
key that cannot sign, or a config that cannot be read, pushes nothing.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .errors import NameplateError, SourceError
from .oci import Transport
from .oci import manifest as m
from .oci.artifacts import _resolve, attach_to, open_store, record_layer
from .oci.signed import FORMATS, PreparedSignature, prepare_signature, push_signature, verify
from .record import Record
from .sign import Signer

__all__ = ["INDEX_TAG", "CacheResult", "SpecImage", "attach_cache", "is_spec_tag", "spec_tag"]

INDEX_TAG = "index.spack"
_HASH = re.compile(r"^[a-z2-7]{32}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


def spec_tag(name: str, version: str, dag_hash: str) -> str:
    """The tag Spack gives a spec's image (``spack.oci.image.default_tag``): invalid characters
    become ``_``, a tag over 128 characters keeps its first and last 64."""
    tag = re.sub(r"[^\w.-]", "_", f"{name}-{version}-{dag_hash}.spack")
    return tag if len(tag) <= 128 else tag[:64] + tag[-64:]


def is_spec_tag(tag: str) -> bool:
    """Whether a tag can be a spec image's (``...-<32-char hash>.spack``)."""
    return tag.endswith(".spack") and bool(_HASH.match(tag[-38:-6])) and tag[-39:-38] == "-"


@dataclass(frozen=True, slots=True)
class SpecImage:
    """What happened to one spec image: ``attached`` (a record, signed with a key), ``signed``
    (its record was there, the signature was not), ``present`` (nothing to do) or ``skipped``
    (not a spec image of its tag, with the reason)."""

    tag: str
    digest: str
    action: str
    spec: str = ""
    reason: str = ""
    pushed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CacheResult:
    """The spec images of the cache, in tag order."""

    repository: str
    images: tuple[SpecImage, ...] = field(default_factory=tuple)

    def count(self, action: str) -> int:
        """How many images had ``action``."""
        return sum(1 for i in self.images if i.action == action)


def _root(record: Record) -> tuple[str, str, str] | None:
    for root in record.roots:
        c = record.component(root)
        if c is None:
            continue
        for h in c.hashes:
            if h.algorithm == "spack-dag":
                return c.name, c.version or "", h.value
    return None


def _has_record_of(st: object, where: str, refs: Sequence[m.Descriptor], dag_hash: str) -> bool:
    from .oci.artifacts import record_from_bytes

    for d in refs:
        if d.artifact_type not in m.RECORD_TYPES:
            continue
        _, data = record_layer(st, where, d.digest)  # type: ignore[arg-type]
        try:
            found = _root(record_from_bytes(data, where=f"{where}@{d.digest}"))
        except NameplateError:
            continue
        if found is not None and found[2] == dag_hash:
            return True
    return False


@dataclass
class _Plan:
    tag: str
    subject: m.Descriptor
    spec: str
    record: Record | None = None  # to attach
    sign_bytes: bytes | None = None  # an attached record to sign
    prepared: PreparedSignature | None = None


def attach_cache(
    repository: str,
    *,
    signer: Signer | None = None,
    formats: Sequence[str] = FORMATS,
    tags: Sequence[str] = (),
    exports: Sequence[str] = (),
    transport: Transport | None = None,
) -> CacheResult:
    """Attach the record of its spec to each spec image of the Spack OCI build cache at
    ``repository`` (``HOST/REPO``, or an OCI layout ``oci:PATH``), signed by ``signer`` when
    given; ``tags``: globs a spec tag must match (all when empty)."""
    from . import oci
    from .sources import ExtractOptions
    from .sources.image import extract_all as extract_image

    listed = oci.list_tags(repository, transport=transport)
    wanted = [
        t
        for t in sorted(listed)
        if t != INDEX_TAG
        and t.endswith(".spack")
        and _TAG.match(t)  # a registry's list is untrusted: only valid tags are read
        and (not tags or any(fnmatch.fnmatchcase(t, g) for g in tags))
    ]
    trusted_self = signer.trusted() if signer is not None else None
    plans: list[_Plan] = []
    done: list[SpecImage] = []
    options = ExtractOptions(transport=transport)
    for tag in wanted:
        ref = f"{repository}:{tag}"
        st, r = open_store(ref, transport=transport)
        subject = _resolve(st, r, None).descriptor()
        if not is_spec_tag(tag):
            done.append(SpecImage(tag, subject.digest, "skipped", reason="not a spec tag"))
            continue
        try:
            (record,) = extract_image(ref, options)
        except SourceError as exc:
            raise SourceError(f"{ref}: not a Spack build-cache image: {exc}") from exc
        if record.subject.digest != subject.digest:
            raise SourceError(f"{ref}: the tag moved while it was read; run again")
        root = _root(record)
        if root is None or spec_tag(*root) != tag:
            reason = (
                "its config holds no spec" if root is None else f"its spec is {spec_tag(*root)}"
            )
            done.append(SpecImage(tag, subject.digest, "skipped", reason=reason))
            continue
        # from the config (untrusted): shown with printable characters only
        spec = re.sub(r"[^\w.+@/=:,~-]", "?", f"{root[0]}@{root[1]}/{root[2][:7]}")
        refs = st.referrers(subject.digest)
        if not _has_record_of(st, str(r), refs, root[2]):
            plan = _Plan(tag, subject, spec, record=record)
        elif (
            trusted_self is not None
            and not verify(
                f"{repository}@{subject.digest}", trusted_self, transport=transport
            ).trusted
        ):
            newest = [d for d in refs if d.artifact_type in m.RECORD_TYPES]
            newest.sort(key=lambda d: (d.created, d.digest))
            plan = _Plan(
                tag, subject, spec, sign_bytes=record_layer(st, str(r), newest[-1].digest)[1]
            )
        else:
            done.append(SpecImage(tag, subject.digest, "present", spec=spec))
            continue
        if signer is not None:
            payload = plan.record.to_json().encode() if plan.record else plan.sign_bytes
            assert payload is not None
            plan.prepared = prepare_signature(payload, subject.digest, r.repo, signer, formats)
        plans.append(plan)
    # everything is read and signed: now push
    for plan in plans:
        st, r = open_store(f"{repository}:{plan.tag}", transport=transport)
        pushed: list[str] = []
        if plan.record is not None:
            pushed.append(attach_to(st, plan.subject, plan.record, exports, compat=False).digest)
            created = plan.record.provenance.extracted_at
        else:
            created = (
                json.loads(plan.sign_bytes or b"{}").get("provenance", {}).get("extracted_at", "")
            )
        if plan.prepared is not None:
            sigs = push_signature(st, plan.subject, plan.prepared, created)
            pushed.extend(s.digest for s in sigs)
        action = "attached" if plan.record is not None else "signed"
        done.append(
            SpecImage(plan.tag, plan.subject.digest, action, spec=plan.spec, pushed=tuple(pushed))
        )
    return CacheResult(repository=repository, images=tuple(sorted(done, key=lambda i: i.tag)))
