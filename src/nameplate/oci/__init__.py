"""Attach records to OCI registries and layouts, discover and pull them back.

References: ``oci:PATH[:NAME][@DIGEST]`` is an OCI image layout folder;
``[docker://]HOST[:PORT]/REPO[:TAG][@DIGEST]`` a registry; any other name (``myapp:1.0``) an
entry of :data:`DEFAULT_STORE`, the embedded layout at ``$NAMEPLATE_STORE`` or
``~/.local/share/nameplate/store``. See ``docs/oci.md``.
"""

from __future__ import annotations

from ._wire import REINDEX_TAG_PREFIX, Credentials, Transport, is_internal_tag
from .artifacts import (
    DEFAULT_STORE,
    attach,
    copy,
    discover,
    list_tags,
    open_blob,
    open_store,
    pull,
    pull_bytes,
    push,
    reindex,
    resolve,
    summary_annotations,
)
from .layout import Layout
from .manifest import (
    ARTIFACT_TYPE,
    CONFIG_COMPAT_TYPE,
    FILES_ARTIFACT_TYPE,
    Descriptor,
    ResolvedManifest,
)
from .reference import Reference, default_store_path, parse
from .signed import SignedRecord, Verification, attach_signed, pull_trusted, verify

__all__ = [
    "ARTIFACT_TYPE",
    "CONFIG_COMPAT_TYPE",
    "DEFAULT_STORE",
    "FILES_ARTIFACT_TYPE",
    "REINDEX_TAG_PREFIX",
    "Credentials",
    "Descriptor",
    "Layout",
    "Reference",
    "ResolvedManifest",
    "SignedRecord",
    "Transport",
    "Verification",
    "attach",
    "attach_signed",
    "copy",
    "default_store_path",
    "discover",
    "is_internal_tag",
    "list_tags",
    "open_blob",
    "open_store",
    "parse",
    "pull",
    "pull_bytes",
    "pull_trusted",
    "push",
    "reindex",
    "resolve",
    "summary_annotations",
    "verify",
]


def __dir__() -> list[str]:
    """Only the public names (``__all__``): what ``dir()`` and tab completion show."""
    return sorted(__all__)
