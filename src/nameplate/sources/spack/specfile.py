"""Spack spec nodes, read from every specfile format (v1 list form and spec.yaml, v2 … v5).

One reader per format turns a node dict into a :class:`Node`; everything after that (records,
HPC fields) sees only ``Node`` and never the format version. Pure functions over parsed JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...errors import SourceError, UnsupportedFormat

#: ``isinstance(x, _MAPPING)``: a parsed dict passes on the first, C-level check, without
#: the ABC's Python-level ``__instancecheck__`` (hundreds of thousands of calls on a store).
_MAPPING = (dict, Mapping)

__all__ = [
    "SPECFILE_VERSIONS",
    "Edge",
    "Node",
    "node_from_dict",
    "parse_specfile",
    "strip_clearsign",
]

#: Compiler languages, as virtuals on 1.x edges.
LANGUAGES = ("c", "cxx", "fortran")

#: Keys of ``parameters`` that are compiler flags, not variants.
FLAG_KEYS = ("cflags", "cppflags", "cxxflags", "fflags", "ldflags", "ldlibs")

#: Readable specfile format versions (1 is the list form of spec.yaml / 0.13-0.16 JSON).
SPECFILE_VERSIONS = (1, 2, 3, 4, 5)


@dataclass(slots=True, eq=False)  # internal, built per node: plain init is ~4x faster
class Edge:
    """A dependency edge as written in the spec: target hash, deptypes, virtuals."""

    name: str
    hash: str
    types: tuple[str, ...]
    virtuals: tuple[str, ...] = ()
    direct: bool | None = None


@dataclass(slots=True, eq=False)  # internal, never mutated after parsing
class Node:
    """One concrete spec node, independent of the specfile format it came from."""

    name: str
    version: str
    hash: str
    other_hashes: Mapping[str, str] = field(default_factory=dict)
    namespace: str | None = None
    platform: str | None = None
    os: str | None = None
    target: str | Mapping[str, Any] | None = None
    compiler: tuple[str, str] | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    patches: tuple[str, ...] = ()
    external_path: str | None = None
    external_modules: tuple[str, ...] = ()
    external_compilers: Mapping[str, str] | None = None
    edges: tuple[Edge, ...] = ()
    build_spec: str | None = None
    specfile_version: int = 5

    @property
    def external(self) -> bool:
        """True for an external: a package Spack did not build, found at a path or a module."""
        return self.external_path is not None or bool(self.external_modules)

    @property
    def label(self) -> str:
        """``name@version/hash7`` for messages."""
        return f"{self.name}@{self.version}/{self.hash[:7]}"


def _str(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise SourceError(f"{where}: expected a string, got {type(value).__name__}")


def _strs(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if type(value) in (list, tuple) and all(type(v) is str for v in value):
        return tuple(value)
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple):
        raise SourceError(f"{where}: expected a list of strings")
    return tuple(_str(v, f"{where}[{i}]") for i, v in enumerate(value))


def _hash_of(node: Mapping[str, Any], where: str) -> tuple[str, dict[str, str]]:
    """The node's DAG hash and its other hashes; tries Spack's keys in ``ht.HASHES`` order."""
    others: dict[str, str] = {}
    for key in ("full_hash", "build_hash", "package_hash", "_full_hash"):
        value = node.get(key)
        if isinstance(value, str) and value:
            others[key.lstrip("_")] = value
    for key in ("hash", "_hash", "full_hash", "build_hash"):
        value = node.get(key)
        if isinstance(value, str) and value:
            return value, others
    raise SourceError(f"{where}.hash: missing (no hash, full_hash or build_hash)")


def _version(node: Mapping[str, Any], where: str) -> str:
    if "version" in node:
        return _str(node["version"], f"{where}.version")
    versions = node.get("versions")
    if isinstance(versions, list) and len(versions) == 1:
        return _str(versions[0], f"{where}.versions[0]")
    raise SourceError(f"{where}.version: missing (the spec is not concrete)")


def _edges_v1(deps: Any, where: str) -> tuple[Edge, ...]:
    if deps is None:
        return ()
    if not isinstance(deps, _MAPPING):
        raise SourceError(f"{where}: expected an object of dependencies")
    out = []
    for name, dep in deps.items():
        at = f"{where}.{name}"
        if not isinstance(dep, _MAPPING):
            raise SourceError(f"{at}: expected an object")
        h = dep.get("hash") or dep.get("build_hash")
        out.append(
            Edge(
                name=_str(name, at),
                hash=_str(h, f"{at}.hash"),
                types=_strs(dep.get("type"), f"{at}.type"),
            )
        )
    return tuple(out)


def _edge_fast(dep: Any) -> Edge | None:
    """A well-formed v4/v5 edge without per-field checks; None sends it to the careful path."""
    if type(dep) is not dict:
        return None
    params = dep.get("parameters")
    name, h = dep.get("name"), dep.get("hash")
    if type(params) is not dict or type(name) is not str or type(h) is not str:
        return None
    types, virtuals = params.get("deptypes"), params.get("virtuals", [])
    if type(types) is not list or type(virtuals) is not list:
        return None
    try:  # lists of strings only: join refuses anything else, without a loop in Python
        "".join(types)
        "".join(virtuals)
    except TypeError:
        return None
    direct = params.get("direct")
    return Edge(
        name=name,
        hash=h,
        types=tuple(types),
        virtuals=tuple(virtuals),
        direct=direct if type(direct) is bool else None,
    )


def _edges_list(deps: Any, where: str) -> tuple[Edge, ...]:
    if deps is None:
        return ()
    if not isinstance(deps, list | tuple):
        raise SourceError(f"{where}: expected a list of dependencies")
    out = []
    for i, dep in enumerate(deps):
        fast = _edge_fast(dep)
        if fast is not None:
            out.append(fast)
            continue
        at = f"{where}[{i}]"
        if not isinstance(dep, _MAPPING):
            raise SourceError(f"{at}: expected an object")
        h = dep.get("hash") or dep.get("build_hash") or dep.get("full_hash")
        params = dep.get("parameters")
        if isinstance(params, _MAPPING):  # v4, v5
            types = _strs(params.get("deptypes"), f"{at}.parameters.deptypes")
            virtuals = _strs(params.get("virtuals"), f"{at}.parameters.virtuals")
            direct = params.get("direct") if isinstance(params.get("direct"), bool) else None
        else:  # v2, v3
            types = _strs(dep.get("type"), f"{at}.type")
            virtuals, direct = (), None
        out.append(
            Edge(
                name=_str(dep.get("name"), f"{at}.name"),
                hash=_str(h, f"{at}.hash"),
                types=types,
                virtuals=virtuals,
                direct=direct,
            )
        )
    return tuple(out)


_TARGETS: dict[tuple[Any, ...], Mapping[str, Any]] = {}


def _shared_target(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """One object for equal archspec target dicts: a store's nodes share a few targets, and
    each parsed copy holds some 60 feature names (about 4 KB a node)."""
    feats = raw.get("features")
    try:
        key = (
            raw.get("name"),
            raw.get("vendor"),
            raw.get("generation"),
            tuple(feats) if type(feats) is list else feats,
            len(raw),
        )
        shared = _TARGETS.get(key)
    except TypeError:  # something unhashable inside: keep this one as it is
        return raw
    if shared is not None and shared == raw:
        return shared
    if len(_TARGETS) >= 256:
        _TARGETS.clear()
    _TARGETS[key] = raw
    return raw


def node_from_dict(
    node: Mapping[str, Any], *, version: int, where: str, name: str | None = None
) -> Node:
    """A :class:`Node` from one node dict of specfile format ``version``."""
    if not isinstance(node, _MAPPING):
        raise SourceError(f"{where}: expected a spec node object")
    node_name = name if name is not None else _str(node.get("name"), f"{where}.name")
    if not node_name.strip():
        raise SourceError(f"{where}.name: empty (a Spack package has a name)")
    dag_hash, others = _hash_of(node, where)
    arch = node.get("arch")
    platform = os_name = None
    target: str | Mapping[str, Any] | None = None
    if isinstance(arch, _MAPPING):
        platform = arch.get("platform") if isinstance(arch.get("platform"), str) else None
        os_name = arch.get("platform_os") if isinstance(arch.get("platform_os"), str) else None
        raw_target = arch.get("target")
        if isinstance(raw_target, str):
            target = raw_target
        elif isinstance(raw_target, _MAPPING):
            target = _shared_target(raw_target)
    compiler = None
    raw_compiler = node.get("compiler")
    if isinstance(raw_compiler, _MAPPING) and raw_compiler.get("name"):
        compiler = (
            _str(raw_compiler["name"], f"{where}.compiler.name"),
            _str(raw_compiler.get("version", ""), f"{where}.compiler.version"),
        )
    params = node.get("parameters") or {}
    if not isinstance(params, _MAPPING):
        raise SourceError(f"{where}.parameters: expected an object")
    # A copy without the empty flag lists (no reader uses them; ~6 lists a node): the node
    # then keeps nothing of the parsed document's containers, which can be freed whole.
    params = {k: v for k, v in params.items() if v != [] or k not in FLAG_KEYS}
    external = node.get("external")
    ext_path = ext_compilers = None
    ext_modules: tuple[str, ...] = ()
    if isinstance(external, _MAPPING):
        ext_path = external.get("path") if isinstance(external.get("path"), str) else None
        ext_modules = _strs(external.get("module"), f"{where}.external.module")
        extra = external.get("extra_attributes")
        if isinstance(extra, _MAPPING) and isinstance(extra.get("compilers"), _MAPPING):
            ext_compilers = {str(k): str(v) for k, v in extra["compilers"].items()}
    deps = node.get("dependencies")
    edges = (
        _edges_v1(deps, f"{where}.dependencies")
        if version == 1
        else _edges_list(deps, f"{where}.dependencies")
    )
    build_spec = node.get("build_spec")
    return Node(
        name=node_name,
        version=_version(node, where),
        hash=dag_hash,
        other_hashes=others,
        namespace=node.get("namespace") if isinstance(node.get("namespace"), str) else None,
        platform=platform,
        os=os_name,
        target=target,
        compiler=compiler,
        parameters=params,
        patches=_strs(node.get("patches") or params.get("patches"), f"{where}.patches"),
        external_path=ext_path,
        external_modules=ext_modules,
        external_compilers=ext_compilers,
        edges=edges,
        build_spec=build_spec.get("hash") if isinstance(build_spec, _MAPPING) else None,
        specfile_version=version,
    )


def _nodes_v1(spec: Sequence[Any], where: str) -> Iterator[Node]:
    for i, item in enumerate(spec):
        at = f"{where}.spec[{i}]"
        if not isinstance(item, _MAPPING) or len(item) != 1:
            raise SourceError(f"{at}: expected a one-key object {{name: node}}")
        ((name, node),) = item.items()
        yield node_from_dict(node, version=1, where=f"{at}.{name}", name=str(name))


def _nodes_list(version: int) -> Callable[[Mapping[str, Any], str], Iterator[Node]]:
    def read(spec: Mapping[str, Any], where: str) -> Iterator[Node]:
        nodes = spec.get("nodes")
        if not isinstance(nodes, list) or not nodes:
            raise SourceError(f"{where}.spec.nodes: expected a non-empty list")
        for i, node in enumerate(nodes):
            yield node_from_dict(node, version=version, where=f"{where}.spec.nodes[{i}]")

    return read


_READERS: dict[int, Callable[[Mapping[str, Any], str], Iterator[Node]]] = {
    v: _nodes_list(v) for v in (2, 3, 4, 5)
}


def specfile_version(data: Mapping[str, Any], where: str) -> int:
    """The specfile format version of a parsed spec document (1 for the list form)."""
    if not isinstance(data, _MAPPING):
        raise SourceError(f"{where}: $: expected an object")
    spec = data.get("spec")
    if isinstance(spec, list):
        return 1
    if not isinstance(spec, _MAPPING):
        raise SourceError(f"{where}: $.spec: missing (not a Spack spec file)")
    meta = spec.get("_meta")
    raw = meta.get("version") if isinstance(meta, _MAPPING) else None
    try:
        version = int(raw) if raw is not None else -1
    except (TypeError, ValueError, OverflowError):  # an inf or nan from JSON
        version = -1
    if version not in _READERS:
        readable = ", ".join(str(v) for v in SPECFILE_VERSIONS)
        raise UnsupportedFormat(
            f"{where}: $.spec._meta.version: specfile format {raw!r} is not readable "
            f"(readable: {readable})"
        )
    return version


def parse_specfile(data: Mapping[str, Any], *, where: str) -> tuple[int, list[Node]]:
    """The format version and the nodes (root first) of a parsed spec.json / spec.yaml."""
    version = specfile_version(data, where)
    spec = data["spec"]
    nodes = list(_nodes_v1(spec, where) if version == 1 else _READERS[version](spec, where))
    if not nodes:
        raise SourceError(f"{where}: $.spec: no nodes")
    return version, nodes


_CLEARSIGNED = re.compile(
    rb"^-----BEGIN PGP SIGNED MESSAGE-----\s+(?:Hash:\s+\S+\s+)+(.+?)"
    rb"-----BEGIN PGP SIGNATURE-----",
    re.MULTILINE | re.DOTALL,
)


def strip_clearsign(data: bytes) -> tuple[bytes, bool]:
    """The payload of an OpenPGP clearsigned message, and whether it was signed at all."""
    if not data.lstrip().startswith(b"-----BEGIN PGP SIGNED MESSAGE-----"):
        return data, False
    match = _CLEARSIGNED.search(data)
    if match is None:
        raise SourceError("clearsigned message without a signature block")
    return match.group(1), True
