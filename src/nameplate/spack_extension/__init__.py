"""The ``spack nameplate`` extension, shipped inside the package.

Spack finds it through the ``spack.extensions`` entry point (``get_extension_paths``), or by
``spack config add config:extensions:[<path printed by nameplate-spack-extension-path>]``. The
extension folder (``spack-nameplate/``) follows Spack's layout: ``nameplate/cmd/nameplate.py``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["extension_path", "get_extension_paths"]


def extension_path() -> Path:
    """The folder to list in ``config:extensions``."""
    return Path(__file__).resolve().parent / "spack-nameplate"


def get_extension_paths() -> list[str]:
    """Entry point for Spack's ``spack.extensions`` group."""
    return [str(extension_path())]
