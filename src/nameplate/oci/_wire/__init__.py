"""The HTTP wire of the OCI distribution-spec: the one private package that talks to registries.

- :mod:`.transport`: how hosts are reached (:class:`Transport`), raw responses, bounded streams;
- :mod:`.credentials`: environment variables, docker config, credential helpers;
- :mod:`.auth`: challenges and bearer tokens per scope;
- :mod:`.client`: one registry host (:class:`Registry`): kept-alive connections, authenticated
  requests, retries for idempotent requests only;
- :mod:`.repository`: blobs, manifests and tags of one repository;
- :mod:`.referrers`: the referrers API, the tag-schema fallback index and ``reindex``
  (:class:`Repository` is the full store view).

No message ever contains a password or a token.
"""

from __future__ import annotations

from .client import Registry, registry_for
from .credentials import Credentials, basic_token
from .referrers import REINDEX_TAG_PREFIX, Repository, is_internal_tag
from .transport import Transport

__all__ = [
    "REINDEX_TAG_PREFIX",
    "Credentials",
    "Registry",
    "Repository",
    "Transport",
    "basic_token",
    "is_internal_tag",
    "registry_for",
    "repository_for",
]


def repository_for(host: str, name: str, transport: Transport | None = None) -> Repository:
    """The repository ``name`` of the shared :class:`Registry` for ``host``."""
    return Repository(registry_for(host, transport), name)
