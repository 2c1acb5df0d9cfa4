"""The build record: frozen dataclasses mirroring ``schemas/record/record-<version>.schema.json``.

A :class:`Record` describes one *subject* (an install prefix, a Spack store or environment, a
build-cache entry, an EasyBuild install, an image, a binary). It holds an SBOM (components and
typed dependency edges), HPC fields, build provenance, evidence and *unknowns*: what could not be
read, with the path and the reason, so that partial results beat crashes.

``Record.from_dict`` checks types and names the JSON path of a bad field; ``Record.to_dict`` drops
empty values. The JSON Schema is the contract at the boundary (:mod:`nameplate.schema`); these
classes keep the inside typed. ``Record.from_dict(r.to_dict()) == r`` holds for every record.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from . import _codec, _decode, _textcheck
from .errors import RecordError, SourceError
from .schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "Compiler",
    "Component",
    "CpuTarget",
    "CxxRuntime",
    "DepType",
    "Dependency",
    "Evidence",
    "FileDigest",
    "Gpu",
    "Hash",
    "Hpc",
    "LanguageRuntime",
    "Libc",
    "MathLibrary",
    "Mpi",
    "OperatingSystem",
    "Patch",
    "Provenance",
    "Record",
    "Source",
    "Subject",
    "Tool",
    "Toolchain",
    "Unknown",
]

DepType = Literal["build", "link", "run", "test"]
SubjectKind = Literal[
    "spack-prefix",
    "spack-store",
    "spack-environment",
    "spack-specfile",
    "spack-buildcache",
    "easybuild-installation",
    "easybuild-prefix",
    "easybuild-module",
    "easybuild-easyconfig",
    "image",
    "binary",
    "artifact",
]
Status = Literal["installed", "declared", "cached", "external"]
ComponentKind = Literal[
    "package", "compiler", "toolchain", "os-package", "library", "application", "image"
]
MpiAbi = Literal["mpich", "openmpi", "mpi-abi", "unknown"]
#: HPC Container Conformance MPI portability modes (``org.supercontainers.mpi.portability.mode``).
PortabilityMode = Literal["contained", "mpi_replace", "mpi_system", "libfabric_inject"]
OptionValue = bool | str | tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Hash:
    """A digest. ``algorithm``: ``sha256``, ``sha512``, ``sha1``, ``md5``, ``spack-dag`` (Spack's
    32-char base32 DAG hash), ``spack-package`` (Spack's package hash), ``spack-sha1-b32``
    (install_manifest.json's base32 SHA-1 of a file)."""

    algorithm: str
    value: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Source:
    """A source archive or repository a component was built from."""

    url: str | None = None
    filename: str | None = None
    checksums: tuple[Hash, ...] = ()
    git_commit: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Patch:
    """A patch applied to a component's sources, in application order."""

    name: str | None = None
    url: str | None = None
    checksums: tuple[Hash, ...] = ()
    level: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class FileDigest:
    """One installed file and its digests (Spack's install_manifest.json, an image layer...)."""

    path: str
    digests: tuple[Hash, ...] = ()
    size: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class CpuTarget:
    """A CPU target as archspec names it. ``generic`` is the generic ISA level
    (``x86_64_v3``, ``armv8.2a``) that the target implies; ``features`` are archspec's feature
    names, kept so a check works where the host's archspec does not know ``name``."""

    name: str
    family: str | None = None
    vendor: str | None = None
    features: tuple[str, ...] = ()
    generic: str | None = None
    generation: int | None = None
    flags: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Toolchain:
    """An EasyBuild toolchain (``foss/2023a``, ``GCCcore/12.2.0``, ``system``)."""

    name: str
    version: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Compiler:
    """A compiler that built the subject: its languages and the flags used."""

    name: str
    version: str
    languages: tuple[str, ...] = ()
    flags: Mapping[str, tuple[str, ...]] = field(default_factory=_codec.empty_map)
    component: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Component:
    """One piece of software: a Spack node, an EasyBuild install, an OS package, a binary."""

    id: str
    name: str
    version: str
    kind: ComponentKind = "package"
    ecosystem: str = "generic"
    status: Status = "installed"
    purl: str | None = None
    cpe: str | None = None
    description: str | None = None
    homepage: str | None = None
    namespace: str | None = None
    hashes: tuple[Hash, ...] = ()
    licenses: tuple[str, ...] = ()
    options: Mapping[str, OptionValue] = field(default_factory=_codec.empty_map)
    flags: Mapping[str, tuple[str, ...]] = field(default_factory=_codec.empty_map)
    sources: tuple[Source, ...] = ()
    patches: tuple[Patch, ...] = ()
    external: bool = False
    explicit: bool | None = None
    prefix: str | None = None
    platform: str | None = None
    os: str | None = None
    target: CpuTarget | None = None
    toolchain: Toolchain | None = None
    versionsuffix: str | None = None
    module_name: str | None = None
    moduleclass: str | None = None
    modules: tuple[str, ...] = ()
    installed_at: str | None = None
    files: tuple[FileDigest, ...] = ()
    found_by: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=_codec.empty_map)


@dataclass(frozen=True, kw_only=True, slots=True)
class Dependency:
    """A typed edge: ``dependent`` needs ``dependency`` (component ids) at ``types``.
    ``virtuals`` are the virtual packages the dependency provides (``mpi``, ``blas``, ``c``)."""

    dependent: str
    dependency: str
    types: tuple[DepType, ...]
    virtuals: tuple[str, ...] = ()
    direct: bool | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Mpi:
    """The MPI the subject links: implementation, ABI family and soname."""

    implementation: str
    version: str | None = None
    abi: MpiAbi = "unknown"
    abi_version: str | None = None
    soname: str | None = None
    component: str | None = None
    cuda_aware: bool | None = None
    portability_mode: PortabilityMode | None = None
    shipped: bool | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Gpu:
    """A GPU runtime the subject needs. ``architectures`` are real ISA targets (``sm_80``;
    ``sm_90a`` architecture-specific, ``sm_100f`` family-specific; ``gfx90a``, ``gfx90a:xnack+``
    with AMD target features); ``ptx`` are virtual ones (``compute_80``) a driver can JIT for
    newer GPUs, ``ptx_isa`` the newest PTX ISA version among them."""

    vendor: Literal["nvidia", "amd", "intel"]
    runtime: Literal["cuda", "rocm", "hip", "sycl"]
    version: str | None = None
    architectures: tuple[str, ...] = ()
    ptx: tuple[str, ...] = ()
    soname: str | None = None
    min_driver: str | None = None
    component: str | None = None
    ptx_isa: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Libc:
    """The C library: ``family`` (``glibc``, ``musl``), the version built against (the build
    libc), the floor needed by what the subject loads, and the object that needs it."""

    family: str
    version: str | None = None
    min_version: str | None = None
    required_by: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class CxxRuntime:
    """The newest libstdc++ symbol versions needed (``GLIBCXX_3.4.30`` → ``3.4.30``)."""

    glibcxx_min: str | None = None
    cxxabi_min: str | None = None
    required_by: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class LanguageRuntime:
    """A language runtime the subject loads: OpenMP (``libgomp``, ``libomp``, ``libiomp5``) or
    Fortran (``libgfortran``). ``versions`` are the newest symbol versions needed per family
    (``GOMP_4.0``, ``OMP_1.0``; ``GFORTRAN_10``); ``shipped`` says the subject holds the
    library itself."""

    name: str
    soname: str | None = None
    versions: tuple[str, ...] = ()
    shipped: bool | None = None
    component: str | None = None
    required_by: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class OperatingSystem:
    """The OS built on or shipped (``debian12``, or os-release's ``ID`` and ``VERSION_ID``)."""

    name: str
    version: str | None = None
    platform: str | None = None
    pretty_name: str | None = None
    cpe: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class MathLibrary:
    """A maths library the subject uses, by role (``blas``, ``lapack``, ``fft``, ``scalapack``)."""

    role: str
    name: str
    version: str | None = None
    component: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Hpc:
    """The HPC fields: where and with what the subject runs."""

    target: CpuTarget | None = None
    compilers: tuple[Compiler, ...] = ()
    mpi: Mpi | None = None
    gpu: tuple[Gpu, ...] = ()
    libc: Libc | None = None
    cxx: CxxRuntime | None = None
    os: OperatingSystem | None = None
    math_libraries: tuple[MathLibrary, ...] = ()
    openmp: LanguageRuntime | None = None
    fortran: LanguageRuntime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Tool:
    """A tool and its version (and commit, where it was a git checkout)."""

    name: str
    version: str | None = None
    commit: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Provenance:
    """How the subject was built, and how nameplate read it."""

    generator: Tool
    extracted_at: str
    builder: Tool | None = None
    started_at: str | None = None
    built_at: str | None = None
    build_host: Mapping[str, str] = field(default_factory=_codec.empty_map)
    read_from: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Evidence:
    """A file that backs a fact in the record (a Spack SBOM, an ELF binary, a build log)."""

    kind: str
    path: str
    digest: str | None = None
    component: str | None = None
    detail: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Unknown:
    """Something that could not be read: where, which field, and why."""

    path: str
    reason: str
    field: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Subject:
    """What the record describes."""

    kind: SubjectKind
    name: str
    version: str | None = None
    digest: str | None = None
    ref: str | None = None
    platform: str | None = None
    status: Status = "installed"


@dataclass(frozen=True, kw_only=True, slots=True)
class Record:
    """A nameplate build record."""

    schema_version: str = SCHEMA_VERSION
    serial: str
    subject: Subject
    roots: tuple[str, ...] = ()
    components: tuple[Component, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    hpc: Hpc = field(default_factory=Hpc)
    provenance: Provenance
    annotations: Mapping[str, str] = field(default_factory=_codec.empty_map)
    evidence: tuple[Evidence, ...] = ()
    unknowns: tuple[Unknown, ...] = ()

    def __post_init__(self) -> None:
        # The one place text is made safe for every writer (JSON, the formats, the catalog, the
        # terminal): a record holds Unicode only. A lone surrogate (a "\\ud800" JSON or Python
        # escape in what a source read, a file name that is not UTF-8) becomes U+FFFD here.
        # Almost always there is none: that is checked first, a field at a time over all the
        # components together (_textcheck), and only a record that may hold one is walked.
        if _textcheck.is_clean(self):
            return
        for name in _RECORD_FIELDS:
            value = getattr(self, name)
            clean = _codec.clean_text(value)
            if clean is not value:
                object.__setattr__(self, name, clean)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "$") -> Record:
        """Build a record from its JSON form; raises ``RecordError`` naming the bad field."""
        from ._gc import paused

        with paused():
            # the decoder cleans the text it meets: made without __post_init__'s second walk
            return _decode.from_dict(cls, data, path=path, post_init=False)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON data, empty fields dropped (``hpc`` is always present)."""
        from ._gc import paused

        with paused():
            out: dict[str, Any] = _codec.to_jsonable(self)
        out.setdefault("hpc", {})
        return out

    def to_json(self) -> str:
        """Canonical JSON text: sorted keys, two-space indent, trailing newline."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def loads(cls, text: str | bytes, *, where: str = "<string>") -> Record:
        """A record from its JSON text, validated against the record schema.

        Raises :class:`~nameplate.errors.SourceError` when ``text`` is not JSON, and
        :class:`~nameplate.errors.RecordError` (its subclass
        :class:`~nameplate.errors.RecordValidationError` for a schema violation) naming
        ``where`` and the JSON path of the first bad field.
        """
        from . import schema

        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SourceError(f"{where}: not valid JSON: {exc}") from exc
        except RecursionError as exc:
            raise SourceError(f"{where}: JSON nested too deeply") from exc
        if not isinstance(data, dict):
            raise RecordError(f"{where}: $: a record is a JSON object")
        schema.validate(data, where=where)
        try:
            return cls.from_dict(data)
        except RecordError as exc:
            raise RecordError(f"{where}: {exc}") from exc

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Record:
        """The record in the file ``path``, read bounded and validated (see :meth:`loads`).

        Raises :class:`~nameplate.errors.SourceError` when the file cannot be read or is too
        large, :class:`~nameplate.errors.RecordError` when it is not a valid record.
        """
        from ._io import read_bounded

        return cls.loads(read_bounded(path), where=os.fspath(path))

    def dump(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` to ``path`` whole or not at all (a temporary file and a
        rename); raises :class:`~nameplate.errors.NameplateError` when it cannot be written."""
        from ._io import atomic_write

        atomic_write(path, self.to_json().encode())

    def component(self, component_id: str) -> Component | None:
        """The component with ``component_id``, or None."""
        for c in self.components:
            if c.id == component_id:
                return c
        return None


def __dir__() -> list[str]:
    """Only the public names (``__all__``): what ``dir()`` and tab completion show."""
    return sorted(__all__)


_RECORD_FIELDS = tuple(f.name for f in fields(Record))
