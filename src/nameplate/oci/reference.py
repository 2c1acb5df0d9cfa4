"""Parse references: OCI image layouts on disk and registry repositories.

The rule (documented in ``docs/oci.md``):

- ``oci:PATH[:NAME][@DIGEST]`` is an OCI image layout folder. ``PATH`` ends at the first ``:``
  (as in skopeo); ``NAME`` is the ``org.opencontainers.image.ref.name`` in ``index.json``.
- ``docker://HOST[:PORT]/REPO[:TAG][@DIGEST]`` is a registry, and so is a reference without the
  scheme whose first ``/``-separated part looks like a host: it contains ``.`` or ``:``, or is
  ``localhost`` (Docker's rule).
- Anything else (``myapp:1.0``, ``team/app@sha256:...``) names an entry of the **default store**,
  the layout at ``$NAMEPLATE_STORE`` or ``~/.local/share/nameplate/store``: the whole
  ``NAME[:TAG]`` (tag ``latest`` when none is given) is the ref name in that layout.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from ..errors import NameplateError
from .manifest import check_digest

__all__ = ["BadReference", "Reference", "default_store_path", "parse"]

_REPO = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$"
)
#: ref.name grammar of the image-spec (components separated by ``/``, ``-._:@+`` inside).
_REF_NAME = re.compile(
    r"^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$"
)


class BadReference(NameplateError, ValueError):
    """A reference that does not parse (a usage error, exit code 3)."""


def default_store_path() -> Path:
    """The default store: ``$NAMEPLATE_STORE``, else ``~/.local/share/nameplate/store``."""
    env = os.environ.get("NAMEPLATE_STORE")
    if env:
        return Path(env)
    return Path.home() / ".local" / "share" / "nameplate" / "store"


@dataclass(frozen=True, kw_only=True, slots=True)
class Reference:
    """A parsed reference.

    ``kind`` ``layout``: ``path`` is the layout folder, ``name`` the ref name (or None).
    ``kind`` ``registry``: ``registry`` is ``host[:port]``, ``repository`` the repository,
    ``name`` the tag (or None). ``digest`` pins the content in both kinds.
    """

    kind: Literal["layout", "registry"]
    path: Path | None = None
    registry: str = ""
    repository: str = ""
    name: str | None = None
    digest: str | None = None
    #: a ``NAME[:TAG]`` of the default store (``repository`` is then ``NAME``)
    default_store: bool = False

    @property
    def reference(self) -> str | None:
        """What to resolve: the digest when given, else the tag / ref name."""
        return self.digest or self.name

    @property
    def repo(self) -> str:
        """``host/repo`` for a registry, ``oci:PATH`` for a layout: the ref minus tag/digest."""
        if self.kind == "registry":
            return f"{self.registry}/{self.repository}"
        return f"oci:{self.path}"

    def with_name(self, name: str | None) -> Reference:
        """The same repository with another tag / ref name and no digest."""
        return replace(self, name=name, digest=None)

    def __str__(self) -> str:
        base = self.repo
        if self.name:
            base += f":{self.name}"
        if self.digest:
            base += f"@{self.digest}"
        return base


def _split_digest(text: str, original: str) -> tuple[str, str | None]:
    if "@" not in text:
        return text, None
    head, _, digest = text.rpartition("@")
    try:
        return head, check_digest(digest, where=original)
    except NameplateError as exc:
        raise BadReference(str(exc)) from exc


def _looks_like_host(part: str) -> bool:
    return "." in part or ":" in part or part == "localhost"


def parse(
    text: str,
    *,
    store: str | os.PathLike[str] | None = None,
    default_tag: str | None = "latest",
) -> Reference:
    """Parse ``text`` (see the module docstring); ``store`` overrides the default store.
    ``default_tag`` is the tag of a registry or default-store reference that names none
    (None: no tag, for a whole repository)."""
    original = text
    if not text or len(text) > 4096 or any(c.isspace() or ord(c) < 32 for c in text):
        raise BadReference(f"{original[:80]!r}: not a reference")
    if text.startswith("oci:"):
        rest, digest = _split_digest(text[4:], original)
        path, sep, name = rest.partition(":")
        if not path:
            raise BadReference(f"{original}: oci: needs a folder path")
        if sep and not _REF_NAME.match(name):
            raise BadReference(f"{original}: {name!r} is not a valid ref name")
        return Reference(kind="layout", path=Path(path), name=name or None, digest=digest)
    explicit = text.startswith("docker://")
    if explicit:
        text = text[len("docker://") :]
    rest, digest = _split_digest(text, original)
    first, slash, _ = rest.partition("/")
    if explicit or (slash and _looks_like_host(first)):
        if not slash:
            raise BadReference(f"{original}: a registry reference is HOST/REPOSITORY")
        host, _, path = rest.partition("/")
        if not _HOST.match(host):
            raise BadReference(f"{original}: {host!r} is not a registry host")
        port = host.rpartition("]")[2].partition(":")[2]
        if port and not 0 < int(port) < 65536:
            raise BadReference(f"{original}: port {port} is out of range (1-65535)")
        repo, tag = _split_tag(path)
        if not _REPO.match(repo):
            raise BadReference(f"{original}: {repo!r} is not a valid repository name")
        if tag is not None and not _TAG.match(tag):
            raise BadReference(f"{original}: {tag!r} is not a valid tag")
        if tag is None and digest is None:
            tag = default_tag
        return Reference(kind="registry", registry=host, repository=repo, name=tag, digest=digest)
    # the default store: NAME[:TAG] becomes the ref name "NAME:TAG"
    repo, tag = _split_tag(rest)
    if not _REPO.match(repo):
        raise BadReference(f"{original}: {repo!r} is not a valid name")
    if tag is not None and not _TAG.match(tag):
        raise BadReference(f"{original}: {tag!r} is not a valid tag")
    tag = tag or (None if digest is not None else default_tag)
    entry = None if tag is None else f"{repo}:{tag}"
    where = Path(store) if store is not None else default_store_path()
    return Reference(
        kind="layout", path=where, repository=repo, name=entry, digest=digest, default_store=True
    )


def _split_tag(path: str) -> tuple[str, str | None]:
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        repo, _, tag = path.rpartition(":")
        return repo, tag
    return path, None
