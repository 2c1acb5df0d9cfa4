"""The site's named host profiles: a partition or node type each.

Profiles come from two places: files in ``--hosts DIR`` (``NAME.json`` or ``NAME.host.json``,
the output of ``nameplate host -f json`` on a node of that partition), read once at start, and
profiles registered through the API (``PUT /v1/hosts/NAME``), kept in the service's table so
every replica sees them. A name defined by a file cannot be replaced through the API.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._io import read_bounded
from ..compat.profile import Host, host_from_json
from ..errors import CompatError, ServeError, SourceError
from .params import host_name

__all__ = ["MAX_PROFILE", "SiteHost", "load_dir", "parse_profile", "profile_summary"]

MAX_PROFILE = 256 << 10
"""The largest host profile accepted (a real one is a few KiB)."""

_MAX_FILES = 1000


@dataclass(frozen=True, kw_only=True, slots=True)
class SiteHost:
    """A named host profile and where it was defined."""

    name: str
    host: Host
    source: Literal["file", "api"]
    fingerprint: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256(self.host.to_json().encode()).hexdigest()
        object.__setattr__(self, "fingerprint", digest)


def _named(host: Host, name: str) -> Host:
    return host if host.name == name else dataclasses.replace(host, name=name)


def load_dir(folder: str) -> dict[str, SiteHost]:
    """Every profile in ``folder``; a bad file is an error naming it (the service does not start
    with half its partitions)."""
    root = Path(folder)
    if not root.is_dir():
        raise ServeError(f"{folder}: --hosts is not a folder")
    out: dict[str, SiteHost] = {}
    files = sorted(p for p in root.iterdir() if p.suffix == ".json" and p.is_file())
    if len(files) > _MAX_FILES:
        raise ServeError(f"{folder}: more than {_MAX_FILES} host profiles")
    for path in files:
        name = path.name.removesuffix(".json").removesuffix(".host")
        try:
            name = host_name(name, field=str(path))
            text = read_bounded(path, limit=MAX_PROFILE)
            host = host_from_json(text, where=str(path))
        except (SourceError, CompatError) as exc:
            raise ServeError(str(exc)) from exc
        if name in out:
            raise ServeError(f"{path}: host {name!r} is defined twice in {folder}")
        out[name] = SiteHost(name=name, host=_named(host, name), source="file")
    return out


def parse_profile(body: bytes, name: str) -> tuple[Host, str]:
    """A posted profile: the host, and the canonical JSON stored for it."""
    if len(body) > MAX_PROFILE:
        raise ServeError(f"body: over {MAX_PROFILE} bytes", status=413, field="body")
    try:
        host = host_from_json(body, where="body")
    except CompatError as exc:
        raise ServeError(str(exc), field="body") from exc
    host = _named(host, name)
    return host, host.to_json()


class ProfileCache:
    """Parsed profiles by the text stored for them (a registered profile is parsed once)."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[bytes, Host] = OrderedDict()
        self._lock = threading.Lock()

    def host(self, name: str, text: str) -> Host:
        """The host profile stored as ``text`` under ``name``."""
        key = hashlib.sha256(f"{name}\0{text}".encode()).digest()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        try:
            host = _named(Host.from_dict(json.loads(text)), name)
        except (CompatError, ValueError) as exc:
            raise ServeError(
                f"host {name}: the stored profile is unreadable: {exc}", status=500
            ) from exc
        with self._lock:
            self._items[key] = host
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return host


def profile_summary(site: SiteHost) -> dict[str, Any]:
    """One line of ``GET /v1/hosts``: the name, where it is defined, and the facts a check
    reads most."""
    h = site.host
    gpus = [g.name or (f"{g.vendor} {g.compute_capability or g.gfx or ''}".strip()) for g in h.gpus]
    out: dict[str, Any] = {
        "name": site.name,
        "source": site.source,
        "cpu": h.cpu.target,
        "family": h.cpu.family,
        "libc": f"{h.libc.family} {h.libc.version or '?'}" if h.libc else None,
        "mpi": [f"{m.implementation or m.soname} ({m.abi})" for m in h.mpi],
        "gpus": gpus,
        "cuda_driver": h.nvidia.cuda_version if h.nvidia else None,
    }
    return out


def site_hosts(
    files: Mapping[str, SiteHost], stored: list[tuple[str, str]], cache: ProfileCache
) -> dict[str, SiteHost]:
    """The site's profiles: the files, then those registered through the API."""
    out = dict(files)
    for name, text in stored:
        if name not in out:
            out[name] = SiteHost(name=name, host=cache.host(name, text), source="api")
    return dict(sorted(out.items()))
