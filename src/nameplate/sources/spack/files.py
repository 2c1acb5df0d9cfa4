"""Reading Spack's JSON and YAML files from a tree, bounded, with errors naming the file."""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePosixPath
from typing import Any

import yaml

from ...errors import InputTooLarge, SourceError
from ...tree import FileTree

__all__ = ["SPECFILE_LIMIT", "load_json", "load_yaml", "parse_yaml", "sha256", "specfile"]

SPECFILE_LIMIT = 512 * 1024 * 1024
#: Nodes that YAML aliases (``*name``) may add in all: Spack never writes an alias, and an alias
#: bomb (each level naming the previous one ten times) expands to billions of nodes.
ALIAS_NODES_LIMIT = 100_000
#: Deepest YAML nesting read (Spack's spec files nest a handful of levels).
YAML_DEPTH_LIMIT = 200
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_json(tree: FileTree, path: PurePosixPath, *, limit: int = SPECFILE_LIMIT) -> Any:
    """Parse a JSON file of the tree; ``SourceError`` names the file and the position."""
    raw = tree.read_bytes(path, limit=limit)
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"{tree.describe(path)}: not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise SourceError(f"{tree.describe(path)}: JSON nested too deeply") from exc


def load_yaml(tree: FileTree, path: PurePosixPath) -> Any:
    """Parse a YAML file safely (see :func:`parse_yaml`)."""
    return parse_yaml(tree.read_bytes(path, limit=SPECFILE_LIMIT), where=tree.describe(path))


def parse_yaml(raw: bytes, *, where: str) -> Any:
    """Parse YAML ``raw`` safely: no tags that construct objects, and what aliases expand to
    bounded (:data:`ALIAS_NODES_LIMIT`) before anything is built, so an alias bomb is refused
    at once instead of exhausting memory in whatever walks the result."""
    try:
        _check_aliases(raw, where)
        return yaml.load(raw, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise SourceError(f"{where}: not valid YAML: {_one_line(exc)}") from exc
    except RecursionError as exc:
        raise SourceError(f"{where}: YAML nested too deeply") from exc


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def _check_aliases(raw: bytes, where: str) -> None:
    """Walk the YAML events once: count the nodes each anchor stands for and refuse when the
    aliases would expand to more than :data:`ALIAS_NODES_LIMIT` nodes, or nesting is too deep."""
    sizes: dict[str, int] = {}
    stack: list[list[Any]] = []  # [anchor, nodes so far] per open collection
    expanded = 0
    for event in yaml.parse(raw, Loader=_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append([event.anchor, 1])
            if len(stack) > YAML_DEPTH_LIMIT:
                raise SourceError(f"{where}: YAML nested more than {YAML_DEPTH_LIMIT} levels")
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, count = stack.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, count = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            anchor, count = None, sizes.get(event.anchor or "", 1)
            expanded += count
            if expanded > ALIAS_NODES_LIMIT:
                raise InputTooLarge(
                    f"{where}: YAML aliases expand to more than {ALIAS_NODES_LIMIT} nodes "
                    "(an alias bomb?)"
                )
        else:
            continue
        if anchor is not None:
            sizes[anchor] = count
        if stack:
            stack[-1][1] += count


def specfile(tree: FileTree, spack_dir: PurePosixPath) -> tuple[PurePosixPath, Any]:
    json_path = spack_dir / "spec.json"
    if tree.is_file(json_path):
        return json_path, load_json(tree, json_path)
    yaml_path = spack_dir / "spec.yaml"
    if tree.is_file(yaml_path):
        return yaml_path, load_yaml(tree, yaml_path)
    raise SourceError(f"{tree.describe(spack_dir)}: no spec.json or spec.yaml")


def sha256(data: bytes) -> str:
    """The hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
