"""The EasyBuild source: installs (``installpath``, one prefix, one module file) and easyconfigs.

Modules: :mod:`.easyconfig` with :mod:`.evaluator` and :mod:`.templates` (easyconfigs read with
:mod:`ast`, never executed), :mod:`.modulefile` (Lua and Tcl module files), :mod:`.install`
(what an install leaves on disk), :mod:`.declared` (easyconfig → facts), :mod:`.record` (facts →
records) and :mod:`.extract` (the entry points).
"""

from __future__ import annotations

from collections.abc import Mapping

from .extract import detect, extract_all

__all__ = ["CAPABILITIES", "KIND", "detect", "extract_all"]

KIND = "easybuild"

#: What this source can tell (syft-style capabilities declaration).
CAPABILITIES: Mapping[str, str] = {
    "targets": "installpath (software/, modules/, ebfiles_repo/), one install prefix, one module "
    "file, one easyconfig or a folder of easyconfigs",
    "components": "one per install (status installed) or easyconfig (status declared), plus "
    "toolchain parts and dependencies not installed in the tree (status declared)",
    "dependencies": "dependencies → link+run, builddependencies → build, "
    "toolchain → build+link+run",
    "hpc": "compilers, MPI (+ABI family), maths libraries from the toolchain; target from optarch "
    "or the build host (buildstats); OS and glibc from buildstats",
    "provenance": "EasyBuild version, build time, build host (documented buildstats fields only)",
    "never": "executes easyconfigs, module files, hooks or easyblocks; copies the build "
    "environment of test reports or devel modules",
}
