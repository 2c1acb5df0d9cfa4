"""Pure normalisation: CPU targets, MPI ABI families, package URLs, ids, times.

Nothing here does I/O beyond reading nameplate's own data tables (``vocab/*.json``) and
archspec's database; nothing reads the clock or the environment.

Package URL choices (documented in ``docs/concepts/purl.md``):

- Spack has no registered purl type. We follow the open proposal (package-url/purl-spec
  issue #895, PR #898) in the form its reviewers converge on:
  ``pkg:spack/<namespace>/<name>@<version>?sha=<dag hash>``. The hash makes the purl name one
  concrete build, which is what a record describes. :data:`SPACK_PURL_STYLE` names this choice
  so that a later change of the proposal is a new style, not a silent change.
- EasyBuild has none either: ``pkg:generic/<name>@<version>`` with the ``download_url`` and
  ``checksum`` qualifiers of the generic type, and ``toolchain`` as a qualifier.
- OS packages use their registered types (``deb``, ``rpm``, ``apk``).
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from packageurl import PackageURL

from . import _resources
from .errors import SourceError
from .record import CpuTarget, MpiAbi

__all__ = [
    "SPACK_PURL_STYLE",
    "cpu_target",
    "deb_purl",
    "epoch_seconds",
    "generic_level",
    "generic_purl",
    "iso_time",
    "mpi_abi_family",
    "mpi_abi_from_soname",
    "purl_name",
    "serial_for",
    "spack_purl",
    "upstream_version",
    "version_key",
]

SPACK_PURL_STYLE = "purl-spec-pr898"

#: Namespace of the UUIDv5 serials of records (uuid5(NAMESPACE_URL, "https://w3id.org/nameplate")).
_SERIAL_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://w3id.org/nameplate")


@functools.cache
def _targets() -> Mapping[str, Any]:
    import archspec.cpu

    targets: Mapping[str, Any] = archspec.cpu.TARGETS
    return targets


def generic_level(name: str) -> str | None:
    """The generic ISA level archspec implies for ``name`` (``zen3`` → ``x86_64_v3``)."""
    target = _targets().get(name)
    if target is None:
        return None
    return str(target.generic.name)


def cpu_target(raw: str | Mapping[str, Any], *, flags: str | None = None) -> CpuTarget:
    """A :class:`CpuTarget` from a Spack target (a name or archspec's dict); cached.

    Known names are completed from archspec (family, vendor, features, generic level); an
    unknown name keeps whatever the input says, so a record from a newer archspec survives.
    """
    if isinstance(raw, str):
        return _cpu_target_cached(raw, None, (), None, flags)
    feats = raw.get("features", ())
    gen = raw.get("generation")
    vendor = raw.get("vendor")
    return _cpu_target_cached(
        str(raw.get("name", "")),
        vendor if isinstance(vendor, str) else None,
        tuple(str(f) for f in feats) if isinstance(feats, list) else (),
        gen if isinstance(gen, int) and not isinstance(gen, bool) and gen else None,
        flags,
    )


@functools.lru_cache(maxsize=1024)
def _cpu_target_cached(
    name: str,
    vendor: str | None,
    features: tuple[str, ...],
    generation: int | None,
    flags: str | None,
) -> CpuTarget:
    features = tuple(sorted(set(features)))  # the cache key keeps the input order: sort once here
    known = _targets().get(name)
    if known is None:
        return CpuTarget(
            name=name, vendor=vendor, features=features, generation=generation, flags=flags
        )
    return CpuTarget(
        name=name,
        family=str(known.family.name),
        vendor=vendor or str(known.vendor),
        features=features or tuple(sorted(known.features)),
        generic=str(known.generic.name),
        generation=generation,
        flags=flags,
    )


@functools.cache
def _mpi_table() -> tuple[dict[str, str], dict[str, str]]:
    table = _resources.load_json("vocab", "mpi-abi.json")
    by_impl: dict[str, str] = {}
    by_soname: dict[str, str] = {}
    for family, entry in table["families"].items():
        for impl in entry["implementations"]:
            by_impl[impl] = family
        for soname in entry["sonames"]:
            by_soname[soname] = family
    return by_impl, by_soname


def mpi_abi_family(implementation: str) -> MpiAbi:
    """The ABI family of an MPI implementation (``mvapich2`` → ``mpich``): vocab/mpi-abi.json."""
    by_impl, _ = _mpi_table()
    family = by_impl.get(implementation.lower())
    if family == "mpich":
        return "mpich"
    if family == "openmpi":
        return "openmpi"
    return "unknown"


def mpi_abi_from_soname(soname: str) -> MpiAbi:
    """The ABI family an MPI soname belongs to (``libmpi.so.40`` → ``openmpi``)."""
    _, by_soname = _mpi_table()
    family = by_soname.get(soname)
    if family == "mpich":
        return "mpich"
    if family == "openmpi":
        return "openmpi"
    if family == "mpi-abi":
        return "mpi-abi"
    return "unknown"


_PURL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")


def purl_name(name: str) -> bool:
    """Whether a package URL can be made of ``name``: the purl parser drops slashes and spaces
    at its ends, so ``""``, ``"/"`` or ``" "`` name nothing."""
    return bool(name.strip().strip("/").strip())


def _purl(**parts: Any) -> str:
    """``PackageURL(**parts).to_string()``; a name of which no purl can be made (``"/"``, an
    empty name) is a :class:`~nameplate.errors.SourceError` naming it, never a ``TypeError``."""
    name = parts.get("name")
    if not isinstance(name, str) or not purl_name(name):
        raise SourceError(f"name {name!r}: not a package name (no package URL can be made of it)")
    try:
        return str(PackageURL(**parts).to_string())
    except (ValueError, TypeError) as exc:
        raise SourceError(f"name {name!r}: no package URL can be made of it: {exc}") from exc


def spack_purl(name: str, version: str, *, namespace: str | None, dag_hash: str | None) -> str:
    """``pkg:spack/<namespace>/<name>@<version>?sha=<hash>`` (see the module docstring)."""
    ns = namespace or "builtin"
    if all(_PURL_SAFE.match(p) for p in (ns, name, version)) and (
        not dag_hash or _PURL_SAFE.match(dag_hash)
    ):  # fast path: nothing to percent-encode; the same text packageurl would give
        purl = f"pkg:spack/{ns.lower()}/{name.lower()}@{version}"
        return f"{purl}?sha={dag_hash}" if dag_hash else purl
    qualifiers = {"sha": dag_hash} if dag_hash else None
    return _purl(
        type="spack",
        namespace=namespace or "builtin",
        name=name,
        version=version or None,
        qualifiers=qualifiers,
    )


def generic_purl(name: str, version: str | None, **qualifiers: str | None) -> str:
    """``pkg:generic/<name>@<version>`` with the non-empty qualifiers given."""
    quals = {k: v for k, v in qualifiers.items() if v}
    return _purl(type="generic", name=name, version=version or None, qualifiers=quals or None)


def deb_purl(
    name: str,
    version: str,
    *,
    distro: str = "debian",
    arch: str | None = None,
    release: str | None = None,
) -> str:
    """``pkg:deb/<distro>/<name>@<version>?arch=<arch>&distro=<distro>-<release>&epoch=<n>``.

    As the purl spec's deb type and trivy/syft write it: an epoch (``1:2.3-4``) moves from the
    version to the ``epoch`` qualifier; ``distro`` is the os-release ``ID`` and ``VERSION_ID``
    (``debian-12``, ``ubuntu-22.04``) when the release is known."""
    epoch, sep, rest = version.partition(":")
    quals: dict[str, str] = {}
    if arch:
        quals["arch"] = arch
    if release:
        quals["distro"] = f"{distro}-{release}"
    if sep and epoch.isdigit():
        version = rest
        if epoch != "0":
            quals["epoch"] = epoch
    return _purl(
        type="deb",
        namespace=distro,
        name=name,
        version=version,
        qualifiers=quals or None,
    )


def upstream_version(version: str) -> str:
    """The upstream part of a distribution package version: without the epoch and the Debian
    revision or rpm release (``1:4.1.4-3+b1`` → ``4.1.4``)."""
    _, sep, rest = version.partition(":")
    if sep and _.isdigit():
        version = rest
    head, dash, _tail = version.rpartition("-")
    return head if dash and head else version


def serial_for(*identity: str) -> str:
    """A stable record serial: a UUIDv5 URN of the identifying strings."""
    return "urn:uuid:" + str(uuid.uuid5(_SERIAL_NS, "\x1f".join(identity)))


#: The last second of year 9999: RFC 3339 has four-digit years.
_MAX_EPOCH = 253402300799.0


def epoch_seconds(value: object) -> float | None:
    """``value`` as seconds since the epoch when it is a number naming a moment from 1970 to
    the end of 9999 (UTC); None for anything else (a string, a bool, NaN, an infinity, a
    negative or a huge number: untrusted time stamps are checked here before any use)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    if not 0.0 <= seconds <= _MAX_EPOCH:  # NaN fails every comparison
        return None
    return seconds


def iso_time(value: float | _dt.datetime) -> str:
    """RFC 3339 UTC time with seconds precision (``2026-11-26T10:33:35Z``).

    ``ValueError`` when ``value`` names no moment from 1970 (a datetime: year 1) to 9999 (see
    :func:`epoch_seconds` for numbers from untrusted input)."""
    if isinstance(value, _dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)
        try:
            moment = moment.astimezone(_dt.timezone.utc)
        except OverflowError as exc:
            raise ValueError(f"{value.isoformat()} is outside years 1 to 9999 in UTC") from exc
    else:
        seconds = epoch_seconds(value)
        if seconds is None:
            raise ValueError(f"{value!r} is not a time stamp from 1970 to 9999")
        moment = _dt.datetime.fromtimestamp(seconds, tz=_dt.timezone.utc)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


_VERSION_PART = re.compile(r"(\d+|[A-Za-z]+)")


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key for dotted versions: numbers compare as numbers, and sort after words."""
    return tuple((1, int(p)) if p.isdigit() else (0, p) for p in _VERSION_PART.findall(version))


def max_version(versions: Iterable[str]) -> str | None:
    """The highest of ``versions`` by :func:`version_key`, or None when there are none."""
    best: str | None = None
    for v in versions:
        if best is None or version_key(v) > version_key(best):
            best = v
    return best
