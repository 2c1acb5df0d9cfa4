"""OS packages and the OS of a file tree: dpkg, apk, rpm (sqlite) databases and os-release.

Every database is parsed as data: dpkg's ``status`` (and distroless ``status.d/``) and apk's
``installed`` are text; ``rpmdb.sqlite`` is opened read-only in memory and its header blobs are
decoded with :mod:`struct`. The Berkeley DB and NDB rpm databases of older distributions are
recorded as unknowns. ``os-release`` is read line by line (shell quoting undone, never run).
"""

from __future__ import annotations

import re
import sqlite3
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from packageurl import PackageURL

from ...errors import SourceError
from ...normalize import deb_purl, purl_name
from ...record import Component, OperatingSystem, Unknown
from ...tree import FileTree
from .licenses import copyright_licenses, spdx_expression

__all__ = [
    "OsFindings",
    "find_os_packages",
    "parse_apk_installed",
    "parse_dpkg_status",
    "parse_os_release",
    "parse_rpm_files",
    "parse_rpm_header",
    "read_rpmdb_sqlite",
]

_DB_LIMIT = 256 * 1024 * 1024
_DPKG_STATUS = PurePosixPath("var/lib/dpkg/status")
_DPKG_STATUS_D = PurePosixPath("var/lib/dpkg/status.d")
_APK_INSTALLED = PurePosixPath("lib/apk/db/installed")
_RPM_SQLITE = (
    PurePosixPath("var/lib/rpm/rpmdb.sqlite"),
    PurePosixPath("usr/lib/sysimage/rpm/rpmdb.sqlite"),
)
_RPM_OLD = (
    PurePosixPath("var/lib/rpm/Packages"),
    PurePosixPath("var/lib/rpm/Packages.db"),
    PurePosixPath("usr/lib/sysimage/rpm/Packages.db"),
)
_OS_RELEASE = (PurePosixPath("etc/os-release"), PurePosixPath("usr/lib/os-release"))

_DPKG_INFO = PurePosixPath("var/lib/dpkg/info")
_DOC = PurePosixPath("usr/share/doc")
_COPYRIGHT_LIMIT = 4 * 1024 * 1024
_LIST_LIMIT = 16 * 1024 * 1024

#: Paths a layer scan should keep in memory for this module.
METADATA_PATHS = frozenset(
    str(p) for p in (_DPKG_STATUS, _APK_INSTALLED, *_RPM_SQLITE, *_OS_RELEASE)
)


def keep(path: str) -> bool:
    """True for the files this module reads: the databases, dpkg's file lists and the
    copyright files (small, one per package)."""
    if path in METADATA_PATHS or path.startswith("var/lib/dpkg/status.d/"):
        return True
    if path.startswith("var/lib/dpkg/info/") and path.endswith(".list"):
        return True
    return (
        path.startswith("usr/share/doc/") and path.endswith("/copyright") and path.count("/") == 4
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class OsFindings:
    """OS packages (as components), the OS, and what could not be read."""

    components: tuple[Component, ...] = ()
    os: OperatingSystem | None = None
    os_release: dict[str, str] | None = None
    unknowns: tuple[Unknown, ...] = ()
    read_from: tuple[str, ...] = ()
    #: file path (relative, as the package database lists it) → id of the package that owns it
    owners: Mapping[str, str] = field(default_factory=dict)

    def owner_of(self, basename: str) -> Component | None:
        """The package that installs a file named ``basename`` (``libmpi.so.40``), if any."""
        suffix = "/" + basename
        for path, cid in self.owners.items():
            if path.endswith(suffix):
                return next((c for c in self.components if c.id == cid), None)
        return None


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def parse_os_release(data: bytes) -> dict[str, str]:
    """``KEY=value`` pairs of an os-release file; quotes and backslash escapes undone."""
    out: dict[str, str] = {}
    for raw in _text(data).splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
            if raw.strip()[len(key) + 1] == '"':
                value = re.sub(r"\\(.)", r"\1", value)
        out[key] = value
    return out


def _paragraphs(text: str) -> Iterator[dict[str, str]]:
    """Deb822 paragraphs: ``Field: value`` with continuation lines."""
    fields: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields, last = {}, None
            continue
        if line[0] in " \t":
            if last is not None:
                fields[last] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        last = key.strip()
        fields[last] = value.strip()
    if fields:
        yield fields


def parse_dpkg_status(
    data: bytes, *, distro: str = "debian", release: str | None = None
) -> list[Component]:
    """Installed packages of a dpkg ``status`` file, as ``os-package`` components; ``distro``
    and ``release`` (os-release ``ID`` and ``VERSION_ID``) go into the purls."""
    out: list[Component] = []
    for p in _paragraphs(_text(data)):
        name, version = p.get("Package", ""), p.get("Version", "")
        status = p.get("Status", "install ok installed").split()
        if not purl_name(name) or not version or status[-1:] != ["installed"]:
            continue
        arch = p.get("Architecture") or None
        props = {"deb.source": p["Source"]} if p.get("Source") else {}
        if p.get("Maintainer"):
            props["deb.maintainer"] = p["Maintainer"]
        out.append(
            Component(
                id=f"deb:{name}:{arch or 'any'}@{version}",
                name=name,
                version=version,
                kind="os-package",
                ecosystem="deb",
                purl=deb_purl(name, version, distro=distro, arch=arch, release=release),
                description=p.get("Description", "").split("\n", 1)[0] or None,
                homepage=p.get("Homepage") or None,
                found_by=("dpkg",),
                properties=props,
            )
        )
    return out


def parse_apk_installed(data: bytes, *, distro: str = "alpine") -> list[Component]:
    """Packages of apk's ``lib/apk/db/installed``, as ``os-package`` components."""
    out: list[Component] = []
    for block in re.split(r"\n\s*\n", _text(data)):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if len(line) > 2 and line[1] == ":" and line[0] not in fields:
                fields[line[0]] = line[2:]
        name, version = fields.get("P", ""), fields.get("V", "")
        if not purl_name(name) or not version:
            continue
        arch = fields.get("A") or None
        out.append(
            Component(
                id=f"apk:{name}:{arch or 'any'}@{version}",
                name=name,
                version=version,
                kind="os-package",
                ecosystem="apk",
                purl=PackageURL(
                    type="apk",
                    namespace=distro,
                    name=name.lower(),
                    version=version,
                    qualifiers={"arch": arch} if arch else None,
                ).to_string(),
                description=fields.get("T") or None,
                homepage=fields.get("U") or None,
                licenses=(spdx_expression(fields["L"]),) if fields.get("L") else (),
                found_by=("apk",),
                properties={"apk.origin": fields["o"]} if fields.get("o") else {},
            )
        )
    return out


_RPM_TAGS = {
    1000: "name",
    1001: "version",
    1002: "release",
    1003: "epoch",
    1004: "summary",
    1011: "vendor",
    1014: "license",
    1020: "url",
    1022: "arch",
    1044: "sourcerpm",
}


def parse_rpm_header(blob: bytes, *, where: str) -> dict[str, str]:
    """The string and integer tags we need from one rpm header blob (big-endian)."""
    try:
        il, dl = struct.unpack_from(">II", blob, 0)
        if il > 100_000 or 8 + 16 * il + dl > len(blob):
            raise SourceError(f"{where}: rpm header counts run past the blob")
        store = 8 + 16 * il
        out: dict[str, str] = {}
        for i in range(il):
            tag, typ, off, count = struct.unpack_from(">iIiI", blob, 8 + 16 * i)
            name = _RPM_TAGS.get(tag)
            if name is None or off < 0 or off >= dl:
                continue
            pos = store + off
            if typ in (6, 8, 9):  # STRING, STRING_ARRAY, I18NSTRING: first string
                end = blob.find(b"\0", pos, store + dl)
                out[name] = _text(blob[pos : end if end >= 0 else store + dl])
            elif typ == 4 and count >= 1:  # INT32
                out[name] = str(struct.unpack_from(">i", blob, pos)[0])
        return out
    except struct.error as exc:
        raise SourceError(f"{where}: malformed rpm header: {exc}") from exc


_RPM_DIRINDEXES, _RPM_BASENAMES, _RPM_DIRNAMES = 1116, 1117, 1118
_RPM_MAX_FILES = 1_000_000


def parse_rpm_files(blob: bytes, *, where: str) -> list[str]:
    """The paths an rpm header lists (``DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]``), without the
    leading ``/``; bounded, and a ``SourceError`` for counts or offsets that run past the blob."""
    try:
        il, dl = struct.unpack_from(">II", blob, 0)
        if il > 100_000 or 8 + 16 * il + dl > len(blob):
            raise SourceError(f"{where}: rpm header counts run past the blob")
        store = 8 + 16 * il
        found: dict[int, tuple[int, int, int]] = {}
        for i in range(il):
            tag, typ, off, count = struct.unpack_from(">iIiI", blob, 8 + 16 * i)
            if tag in (_RPM_DIRINDEXES, _RPM_BASENAMES, _RPM_DIRNAMES):
                if off < 0 or off >= dl or count > _RPM_MAX_FILES:
                    raise SourceError(f"{where}: rpm file list tag {tag} is out of bounds")
                found[tag] = (typ, store + off, count)
        if _RPM_BASENAMES not in found:
            return []

        def strings(tag: int) -> list[str]:
            typ, pos, count = found[tag]
            if typ != 8:
                raise SourceError(f"{where}: rpm tag {tag} is not a string array")
            out = []
            for _ in range(count):
                end = blob.find(b"\0", pos, store + dl)
                if end < 0:
                    raise SourceError(f"{where}: rpm tag {tag} runs past the header")
                out.append(_text(blob[pos:end]))
                pos = end + 1
            return out

        bases = strings(_RPM_BASENAMES)
        dirs = strings(_RPM_DIRNAMES) if _RPM_DIRNAMES in found else [""]
        typ, pos, count = found.get(_RPM_DIRINDEXES, (4, 0, 0))
        if typ != 4 or count != len(bases) or pos + 4 * count > store + dl:
            raise SourceError(f"{where}: rpm DIRINDEXES does not match BASENAMES")
        indexes = struct.unpack_from(f">{count}i", blob, pos) if count else ()
        paths = []
        for base, index in zip(bases, indexes, strict=True):
            if not 0 <= index < len(dirs):
                raise SourceError(f"{where}: rpm DIRINDEXES {index} names no directory")
            paths.append((dirs[index] + base).lstrip("/"))
        return paths
    except struct.error as exc:
        raise SourceError(f"{where}: malformed rpm header: {exc}") from exc


#: Namespaces (package-url's registered "vendor" of an rpm) of common rpm ``Vendor`` tags.
_RPM_VENDORS = (
    ("red hat", "redhat"),
    ("fedora", "fedora"),
    ("centos", "centos"),
    ("rocky", "rocky"),
    ("almalinux", "almalinux"),
    ("opensuse", "opensuse"),
    ("suse", "suse"),
    ("amazon", "amazon"),
    ("oracle", "oracle"),
)
#: SQLite virtual-machine steps one database may cost before it is refused (a crafted schema
#: could otherwise make a query run for ever).
_SQLITE_STEPS = 50_000_000


def _rpm_namespace(namespace: str, vendor: str) -> str | None:
    if namespace:
        return namespace
    low = vendor.lower()
    known = next((ns for key, ns in _RPM_VENDORS if key in low), None)
    if known is not None:
        return known
    word = re.sub(r"[^a-z0-9._-]", "", low.split()[0]) if low.split() else ""
    return word or None


def _sqlite_rows(data: bytes, *, where: str) -> list[tuple[object, object]]:
    """``(hnum, blob)`` of the ``Packages`` table, read from a private in-memory copy."""
    if len(data) >= 20 and data[18:20] == b"\x02\x02":
        # rpm keeps its database in WAL mode, which an in-memory database cannot open; bytes
        # 18-19 of the header ("file format write/read version") = 1 is the same file in
        # rollback-journal mode. Only this copy changes; a -wal file beside it is not read.
        data = data[:18] + b"\x01\x01" + data[20:]
    try:
        conn = sqlite3.connect(":memory:")
    except sqlite3.Error as exc:  # pragma: no cover - sqlite always opens :memory:
        raise SourceError(f"{where}: cannot open sqlite: {exc}") from exc
    steps = [0]

    def _budget() -> int:
        steps[0] += 1
        return 1 if steps[0] * 100 > _SQLITE_STEPS else 0

    try:
        if not hasattr(conn, "deserialize"):
            raise SourceError(f"{where}: reading rpmdb.sqlite needs Python 3.11 or newer")
        conn.set_progress_handler(_budget, 100)
        conn.text_factory = bytes  # a crafted schema's text need not be UTF-8
        try:
            conn.deserialize(data)
            conn.execute("PRAGMA trusted_schema = OFF")
            conn.execute("PRAGMA query_only = ON")
            kind = conn.execute("SELECT type FROM sqlite_master WHERE name = 'Packages'").fetchone()
            if kind is None or kind[0] != b"table":
                raise SourceError(f"{where}: rpm sqlite database has no Packages table")
            return [
                (r[0], r[1])
                for r in conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum").fetchall()
            ]
        except (sqlite3.Error, ValueError, OverflowError, MemoryError) as exc:
            raise SourceError(f"{where}: not a readable rpm sqlite database: {exc}") from exc
    finally:
        conn.close()


def read_rpmdb_sqlite(
    data: bytes,
    *,
    where: str,
    distro: str = "",
    namespace: str = "",
    owners: dict[str, str] | None = None,
) -> list[Component]:
    """Packages of an ``rpmdb.sqlite`` (rpm ≥ 4.16), read from a private in-memory copy.

    ``namespace`` is the purl namespace (the os-release ``ID``); without it, the one of a
    known ``Vendor`` tag (``Red Hat, Inc.`` → ``redhat``) or the vendor's first word.
    ``owners``, when given, receives each listed file's path → the id of its package.
    """
    rows = _sqlite_rows(data, where=where)
    out: list[Component] = []
    for hnum, blob in rows:
        if not isinstance(blob, bytes):
            continue
        h = parse_rpm_header(blob, where=f"{where}: package {hnum}")
        name, version = h.get("name"), h.get("version")
        if not name or not version:
            continue
        full = f"{version}-{h['release']}" if h.get("release") else version
        epoch = h.get("epoch")
        arch = h.get("arch")
        quals = {k: v for k, v in (("arch", arch), ("epoch", epoch), ("distro", distro)) if v}
        props = {"rpm.sourcerpm": h["sourcerpm"]} if h.get("sourcerpm") else {}
        cid = f"rpm:{name}:{arch or 'any'}@{(epoch + ':') if epoch else ''}{full}"
        if owners is not None:
            for path in parse_rpm_files(blob, where=f"{where}: package {hnum}"):
                owners.setdefault(path, cid)
        out.append(
            Component(
                id=cid,
                name=name,
                version=full,
                kind="os-package",
                ecosystem="rpm",
                purl=PackageURL(
                    type="rpm",
                    namespace=_rpm_namespace(namespace, h.get("vendor") or ""),
                    name=name,
                    version=full,
                    qualifiers=quals or None,
                ).to_string(),
                description=h.get("summary") or None,
                homepage=h.get("url") or None,
                licenses=(spdx_expression(h["license"]),) if h.get("license") else (),
                found_by=("rpm",),
                properties=props,
            )
        )
    return out


_CPE_FIELD = re.compile(r"^[A-Za-z0-9._~-]*$")


def cpe23(name: str) -> str | None:
    """A CPE name as os-release's ``CPE_NAME`` writes it (the 2.2 URI binding,
    ``cpe:/o:fedoraproject:fedora:39``, or already 2.3) as a CPE 2.3 formatted string; None for
    anything else."""
    name = name.strip()
    if name.startswith("cpe:2.3:"):
        parts = name.split(":")
        return name if len(parts) == 13 and parts[2] in ("a", "o", "h") else None
    if not name.startswith("cpe:/"):
        return None
    fields = name[5:].split(":")
    if not 2 <= len(fields) <= 7 or fields[0] not in ("a", "o", "h"):
        return None
    if not all(_CPE_FIELD.match(f) for f in fields):
        return None
    out = [f or "*" for f in fields]
    out += ["*"] * (11 - len(out))
    return "cpe:2.3:" + ":".join(out)


def _first_file(tree: FileTree, paths: tuple[PurePosixPath, ...]) -> PurePosixPath | None:
    return next((p for p in paths if tree.is_file(p)), None)


def find_os_packages(tree: FileTree) -> OsFindings:
    """Everything the OS databases of ``tree`` say; unreadable databases become unknowns."""
    unknowns: list[Unknown] = []
    components: list[Component] = []
    read_from: list[str] = []
    owners: dict[str, str] = {}  # file path -> id of the package that installs it
    release: dict[str, str] | None = None
    rel_path = _first_file(tree, _OS_RELEASE)
    if rel_path is not None:
        release = parse_os_release(tree.read_bytes(rel_path, limit=1024 * 1024))
        read_from.append(tree.describe(rel_path))
    distro = (release or {}).get("ID", "").lower()
    version_id = (release or {}).get("VERSION_ID", "")

    def attempt(path: PurePosixPath, field: str, fn: Callable[[bytes], list[Component]]) -> None:
        try:
            data = tree.read_bytes(path, limit=_DB_LIMIT)
            components.extend(fn(data))
            read_from.append(tree.describe(path))
        except SourceError as exc:
            unknowns.append(Unknown(path=tree.describe(path), field=field, reason=str(exc)))

    deb_distro, deb_release = distro or "debian", version_id or None
    if tree.is_file(_DPKG_STATUS):
        attempt(
            _DPKG_STATUS,
            "dpkg",
            lambda d: parse_dpkg_status(d, distro=deb_distro, release=deb_release),
        )
    if tree.is_dir(_DPKG_STATUS_D):
        for name in tree.listdir(_DPKG_STATUS_D):
            p = _DPKG_STATUS_D / name
            if tree.is_file(p):
                attempt(
                    p,
                    "dpkg",
                    lambda d: parse_dpkg_status(d, distro=deb_distro, release=deb_release),
                )
    if tree.is_file(_APK_INSTALLED):
        attempt(_APK_INSTALLED, "apk", lambda d: parse_apk_installed(d, distro=distro or "alpine"))
    rpm = _first_file(tree, _RPM_SQLITE)
    rpm_distro = f"{distro}-{version_id}" if distro and version_id else distro
    if rpm is not None:
        attempt(
            rpm,
            "rpm",
            lambda d: read_rpmdb_sqlite(
                d, where=str(rpm), distro=rpm_distro, namespace=distro, owners=owners
            ),
        )
        wal = rpm.with_name(rpm.name + "-wal")
        if tree.is_file(wal) and tree.size(wal) > 0:
            unknowns.append(
                Unknown(
                    path=tree.describe(wal),
                    field="rpm",
                    reason="rpm's write-ahead log is not empty; changes not yet written "
                    "back to rpmdb.sqlite are not read",
                )
            )
    else:
        old = _first_file(tree, _RPM_OLD)
        if old is not None:
            unknowns.append(
                Unknown(
                    path=tree.describe(old),
                    field="rpm",
                    reason="Berkeley DB / NDB rpm databases are not read (only rpmdb.sqlite)",
                )
            )
    unique: dict[str, Component] = {}
    for c in components:
        unique.setdefault(c.id, c)
    for cid, c in list(unique.items()):
        if c.ecosystem == "deb":
            unique[cid] = _with_copyright(tree, c, unknowns)
            _dpkg_files(tree, c, owners)
    os_info = None
    if release and release.get("ID"):
        os_info = OperatingSystem(
            name=release["ID"],
            version=release.get("VERSION_ID") or None,
            pretty_name=release.get("PRETTY_NAME") or None,
            cpe=cpe23(release.get("CPE_NAME", "")),
        )
    return OsFindings(
        components=tuple(unique.values()),
        os=os_info,
        os_release=release,
        unknowns=tuple(unknowns),
        read_from=tuple(read_from),
        owners=owners,
    )


def _with_copyright(tree: FileTree, c: Component, unknowns: list[Unknown]) -> Component:
    """``c`` with the licenses of its copyright file (its doc folder may link to another's)."""
    path = _DOC / c.name / "copyright"
    try:
        if not tree.is_file(path):
            return c
        licenses = copyright_licenses(tree.read_bytes(path, limit=_COPYRIGHT_LIMIT))
    except SourceError as exc:
        unknowns.append(Unknown(path=tree.describe(path), field="licenses", reason=str(exc)))
        return c
    return replace(c, licenses=licenses) if licenses else c


def _dpkg_files(tree: FileTree, c: Component, owners: dict[str, str]) -> None:
    """The files dpkg says ``c`` installed (``info/<name>[:<arch>].list``) → ``owners``."""
    arch = c.id.split(":")[2].split("@")[0]
    for name in (f"{c.name}:{arch}.list", f"{c.name}.list"):
        path = _DPKG_INFO / name
        if not tree.is_file(path):
            continue
        try:
            data = tree.read_bytes(path, limit=_LIST_LIMIT)
        except SourceError:
            return
        for line in _text(data).splitlines():
            if line.startswith("/") and len(line) > 1:
                owners.setdefault(line[1:], c.id)
        return
