"""Reading Spack's JSON and YAML files from a tree, bounded, with errors naming the file."""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePosixPath
from typing import Any

from ..._io import json_loads, json_text
from ...errors import SourceError
from ...tree import FileTree

__all__ = ["SPECFILE_LIMIT", "load_json", "load_yaml", "sha256", "specfile"]

SPECFILE_LIMIT = 512 * 1024 * 1024


def load_json(tree: FileTree, path: PurePosixPath, *, limit: int = SPECFILE_LIMIT) -> Any:
    """Parse a JSON file of the tree; ``SourceError`` names the file and the position."""
    data = tree.read_bytes(path, limit=limit)
    try:
        doc = json_text(data)
        del data  # a large DB is held as text only while it is parsed
        return json_loads(doc)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"{tree.describe(path)}: not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise SourceError(f"{tree.describe(path)}: JSON nested too deeply") from exc


def load_yaml(tree: FileTree, path: PurePosixPath) -> Any:
    """Parse a YAML file safely (no tags that construct objects)."""
    import yaml  # legacy spec.yaml only: a JSON-only store never loads it

    raw = tree.read_bytes(path, limit=SPECFILE_LIMIT)
    try:
        return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError as exc:
        raise SourceError(f"{tree.describe(path)}: not valid YAML: {exc}") from exc


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
