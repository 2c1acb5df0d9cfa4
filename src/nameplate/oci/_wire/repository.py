"""One repository of a registry: blobs (streamed, mounted across repositories), manifests
(exact bytes, verified against their digest) and tags (with ``Link`` paging)."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from typing import Any, BinaryIO

from ...errors import RegistryAuthError, RegistryError
from .. import manifest as m
from ..manifest import Descriptor, ResolvedManifest
from .client import Registry
from .transport import Response, error_text, follow

__all__ = ["RepositoryBase", "parse_tag_list"]

#: Waits before re-sending a manifest that a registry refused while blobs were still linking.
_MANIFEST_RACE_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8)
_MANIFEST_RACE_CODES = ("DIGEST_INVALID", "BLOB_UNKNOWN", "MANIFEST_BLOB_UNKNOWN")


def parse_tag_list(body: bytes, *, where: str) -> list[str]:
    """The tag names of a ``tags/list`` answer (untrusted); names that are not strings are
    dropped, anything that is not ``{"tags": [...]}`` (or ``null``) is refused."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise RegistryError(f"{where}: answer is not JSON") from exc
    if not isinstance(doc, dict):
        raise RegistryError(f"{where}: answer is not a JSON object")
    tags = doc.get("tags") or []
    if not isinstance(tags, list):
        raise RegistryError(f"{where}: tags is not an array")
    return [t for t in tags if isinstance(t, str)]


class RepositoryBase:
    """One repository of a registry: blobs, manifests and tags (referrers: :mod:`.referrers`)."""

    def __init__(self, registry: Registry, name: str) -> None:
        self.registry, self.name = registry, name
        self._pull = (f"repository:{name}:pull",)
        self._push = (f"repository:{name}:pull,push",)

    def __str__(self) -> str:
        return f"{self.registry.host}/{self.name}"

    def _fail(self, what: str, resp: Response) -> RegistryError:
        if resp.status in (401, 403):
            return RegistryAuthError(
                f"{self}: {what}: {resp.status} denied for {self.registry.who()}"
            )
        return RegistryError(f"{self}: {what}: {resp.status} {error_text(resp)}")

    # -- blobs -------------------------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        resp = self.registry.request("HEAD", f"/v2/{self.name}/blobs/{digest}", scopes=self._pull)
        if resp.status == 404:
            return False
        if resp.status == 200:
            return True
        raise self._fail(f"HEAD blob {digest}", resp)

    def open_blob(self, digest: str) -> BinaryIO:
        m.check_digest(digest)
        return self.registry.open_stream(
            f"/v2/{self.name}/blobs/{digest}", scopes=self._pull, digest=digest
        )

    def read_blob_range(
        self, digest: str, start: int, length: int, *, whole_limit: int
    ) -> tuple[bytes, bool]:
        """Bytes ``[start, start + length)`` of blob ``digest`` (HTTP ``Range``); ``(blob,
        True)`` when the server sent the whole blob instead (at most ``whole_limit`` bytes,
        digest checked)."""
        m.check_digest(digest)
        return self.registry.read_range(
            f"/v2/{self.name}/blobs/{digest}",
            scopes=self._pull,
            digest=digest,
            start=start,
            length=length,
            whole_limit=whole_limit,
        )

    def _location(self, resp: Response, what: str) -> str:
        location = resp.header("location")
        if not location:
            raise RegistryError(f"{self}: {what}: no Location in the answer")
        url = urllib.parse.urlsplit(location)
        if url.netloc and url.netloc != self.registry.host:
            raise RegistryError(f"{self}: {what}: upload redirected to another host {url.netloc}")
        return url.path + (f"?{url.query}" if url.query else "")

    @staticmethod
    def _with_query(location: str, **params: str) -> str:
        sep = "&" if "?" in location else "?"
        return location + sep + urllib.parse.urlencode(params)

    def put_blob(
        self, stream: BinaryIO, digest: str, size: int, *, mount_from: str | None = None
    ) -> None:
        """Upload a blob unless present: cross-repo mount, then a streamed PUT or PATCH chunks."""
        m.check_digest(digest)
        if self.has_blob(digest):
            return
        scopes: tuple[str, ...] = self._push
        query = ""
        if mount_from and mount_from != self.name:
            scopes = (*self._push, f"repository:{mount_from}:pull")
            query = "?" + urllib.parse.urlencode({"mount": digest, "from": mount_from})
        resp = self.registry.request(
            "POST", f"/v2/{self.name}/blobs/uploads/{query}", scopes=scopes, idempotent=False
        )
        if resp.status == 201 and query:
            return  # mounted
        if not 200 <= resp.status < 300:
            raise self._fail("start upload", resp)
        location = self._location(resp, "start upload")
        chunk = self.registry.transport.chunk_size
        if chunk:
            offset = 0
            while offset < size:
                n = min(chunk, size - offset)
                resp = self.registry.request(
                    "PATCH",
                    location,
                    scopes=self._push,
                    body=stream,
                    length=n,
                    idempotent=False,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{offset}-{offset + n - 1}",
                    },
                )
                if not 200 <= resp.status < 300:  # any 2xx: ggcr answers 204, the spec says 202
                    raise self._fail(f"upload blob {digest} (chunk at {offset})", resp)
                location = (
                    self._location(resp, "upload chunk") if resp.header("location") else location
                )
                offset += n
            resp = self.registry.request(
                "PUT",
                self._with_query(location, digest=digest),
                scopes=self._push,
                idempotent=False,
            )
        else:
            resp = self.registry.request(
                "PUT",
                self._with_query(location, digest=digest),
                scopes=self._push,
                body=stream,
                length=size,
                idempotent=False,
                headers={"Content-Type": "application/octet-stream"},
            )
        if not 200 <= resp.status < 300:
            raise self._fail(f"upload blob {digest}", resp)

    # -- manifests ---------------------------------------------------------------------------

    def get_manifest(self, reference: str) -> ResolvedManifest | None:
        """The manifest for a tag or digest, or None when the registry has none."""
        resp = self.registry.request(
            "GET",
            f"/v2/{self.name}/manifests/{reference}",
            scopes=self._pull,
            headers={"Accept": m.MANIFEST_ACCEPT},
        )
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise self._fail(f"GET manifest {reference}", resp)
        where = f"{self}@{reference}"
        if len(resp.body) > m.MANIFEST_LIMIT:
            raise RegistryError(f"{where}: manifest over the {m.MANIFEST_LIMIT}-byte limit")
        if reference.startswith(("sha256:", "sha512:")):
            alg = reference.partition(":")[0]
            if f"{alg}:{hashlib.new(alg, resp.body).hexdigest()}" != reference:
                raise RegistryError(f"{where}: the manifest bytes do not match the digest")
            digest = reference
        else:
            digest = m.digest_of(resp.body)
        doc = m.parse_manifest(resp.body, where=where)
        ctype = (resp.header("content-type") or "").split(";")[0].strip()
        media_type = m.media_type_of(doc) if doc.get("mediaType") or not ctype else ctype
        return ResolvedManifest(digest=digest, media_type=media_type, data=resp.body)

    def resolve(self, reference: str) -> ResolvedManifest:
        found = self.get_manifest(reference)
        if found is None:
            raise RegistryError(f"{self}: manifest {reference} not found")
        return found

    def has_manifest(self, digest: str) -> bool:
        resp = self.registry.request(
            "HEAD",
            f"/v2/{self.name}/manifests/{digest}",
            scopes=self._pull,
            headers={"Accept": m.MANIFEST_ACCEPT},
        )
        if resp.status == 404:
            return False
        if resp.status == 200:
            return True
        raise self._fail(f"HEAD manifest {digest}", resp)

    def _put(
        self, reference: str, data: bytes, media_type: str, *, etag: str | None = None
    ) -> Response:
        headers = {"Content-Type": media_type}
        if etag:
            headers["If-Match"] = etag
        for attempt in range(len(_MANIFEST_RACE_DELAYS) + 1):
            resp = self.registry.request(
                "PUT",
                f"/v2/{self.name}/manifests/{reference}",
                scopes=self._push,
                body=data,
                headers=headers,
                idempotent=True,
            )
            if 200 <= resp.status < 300:
                return resp
            # distribution 2.8 answers a manifest PUT with 400 DIGEST_INVALID (or BLOB_UNKNOWN)
            # while another client is still linking the same blob (every artifact shares the
            # empty config): seen with 12 concurrent attachers. The PUT is content-addressed and
            # idempotent, so wait and send the same bytes again.
            if resp.status != 400 or attempt == len(_MANIFEST_RACE_DELAYS):
                break
            if not error_text(resp).startswith(_MANIFEST_RACE_CODES):
                break
            time.sleep(_MANIFEST_RACE_DELAYS[attempt])
        raise self._fail(f"PUT manifest {reference}", resp)

    def put_manifest(self, data: bytes, media_type: str, *, tag: str | None = None) -> Descriptor:
        """PUT the exact bytes by digest (and tag)."""
        desc, _, _ = self._put_manifest(data, media_type, tag=tag)
        return desc

    def _put_manifest(
        self, data: bytes, media_type: str, *, tag: str | None
    ) -> tuple[Descriptor, dict[str, Any], Response]:
        """PUT by digest, then tag; the descriptor, the parsed manifest and the first answer."""
        digest = m.digest_of(data)
        doc = m.parse_manifest(data, where=f"{self}: new manifest")
        resp = self._put(digest, data, media_type)
        if tag is not None:
            self._put(tag, data, media_type)
        return Descriptor(media_type=media_type, digest=digest, size=len(data)), doc, resp

    def tags(self) -> list[str]:
        out: list[str] = []
        path: str | None = f"/v2/{self.name}/tags/list?n=1000"
        seen: set[str] = set()
        while path:
            resp = self.registry.request("GET", path, scopes=self._pull)
            if resp.status == 404:
                return out
            if resp.status != 200:
                raise self._fail("list tags", resp)
            out.extend(parse_tag_list(resp.body, where=f"{self}: tags/list"))
            path = follow(
                resp.header("link"), path, host=self.registry.host, seen=seen, where=f"{self} tags"
            )
        return out
