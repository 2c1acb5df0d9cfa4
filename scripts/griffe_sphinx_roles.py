"""A griffe extension for the API reference (``mkdocs.yml``): Sphinx roles become links.

nameplate's docstrings name other objects the Sphinx way (:class:`~nameplate.record.Record`,
:func:`.detect`, :mod:`nameplate.schema`). mkdocstrings renders Markdown, where such a role would
read ``:class:`` followed by code. This extension rewrites each role into a cross-reference that
mkdocs-autorefs turns into a link when the target is on a page (``~`` shows the last part only),
and into plain code otherwise. A role naming a ``nameplate`` object that does not exist (a
renamed function, a stale reference) is a warning, so ``mkdocs build --strict`` fails on it.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from typing import Any

import griffe

ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const):`(?P<tilde>~?)(?P<target>[^`]+)`"
)
log = logging.getLogger("mkdocs.plugins.nameplate_roles")


def _objects(obj: Any) -> Iterator[Any]:
    """Every object defined in ``obj`` (not the names it imports), depth first."""
    yield obj
    for member in obj.members.values():
        if member.is_alias:
            continue
        yield from _objects(member)


def _exists(collection: Any, path: str) -> bool:
    try:
        collection.get_member(path)
    except (KeyError, ValueError, AttributeError):
        return False
    return True


def _resolve(obj: Any, target: str, collection: Any) -> str | None:
    """The full path ``target`` names, seen from ``obj``; None when nothing matches."""
    if target.startswith("."):  # relative: from the module, then each package above it
        module = obj if obj.is_module else obj.module
        rest = target.lstrip(".")
        parts = module.path.split(".")
        for i in range(len(parts), 0, -1):
            path = ".".join([*parts[:i], rest])
            if _exists(collection, path):
                return path
        return None
    if "." not in target:
        try:
            return str(obj.resolve(target))
        except (griffe.NameResolutionError, AttributeError, ValueError, KeyError):
            return None
    if _exists(collection, target):  # a full path
        return target
    head = target.split(".", 1)[0]
    try:  # Record.load: the first part is a name in scope
        first = str(obj.resolve(head))
    except (griffe.NameResolutionError, AttributeError, ValueError, KeyError):
        return None
    path = first + target[len(head) :]
    return path if _exists(collection, path) else None


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring of the package into autorefs."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        collection = loader.modules_collection
        for obj in _objects(pkg):
            if obj.docstring is None or ":`" not in obj.docstring.value:
                continue
            obj.docstring.value = ROLE.sub(
                lambda m, obj=obj: self._link(obj, m, collection), obj.docstring.value
            )

    @staticmethod
    def _link(obj: Any, match: re.Match[str], collection: Any) -> str:
        target = match["target"].strip().removesuffix("()")
        shown = target.rsplit(".", 1)[-1] if match["tilde"] else target.lstrip(".")
        path = _resolve(obj, target, collection)
        ours = target.startswith(".") or target.split(".", 1)[0] == obj.path.split(".", 1)[0]
        if path is None:
            if ours:  # a name of this package that is gone: a stale reference
                log.warning("%s: docstring names %s, which does not exist", obj.path, target)
            return f"``{shown}``"
        title = html.escape(shown)
        return f'<autoref identifier="{html.escape(path)}" optional><code>{title}</code></autoref>'
