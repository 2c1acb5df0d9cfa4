"""Will it run here? Host profiles, compatibility rules, tag selection and a record catalog.

``host.detect()`` probes this machine (the only side effects in this package); ``check(record,
host)`` runs the pure rules of :mod:`~nameplate.compat.rules` and returns a :class:`Report` with a
verdict and every reason. :mod:`~nameplate.compat.select` ranks the variants of a repository,
:mod:`~nameplate.compat.catalog` indexes records for Spack-spec queries, and
:mod:`~nameplate.compat.nfd` derives a node-feature-discovery image-compatibility artifact.
"""

from __future__ import annotations

from .findings import CheckOptions, Finding, Verdict
from .profile import Host, HostCpu, cpu_from_cpuinfo, host_from_json
from .report import Report, check
from .rules import RULES

__all__ = [
    "RULES",
    "CheckOptions",
    "Finding",
    "Host",
    "HostCpu",
    "Report",
    "Verdict",
    "check",
    "cpu_from_cpuinfo",
    "detect",
    "host_from_json",
]


def detect() -> Host:
    """Probe this machine (see :func:`nameplate.compat.host.detect`)."""
    from .host import detect as _detect

    return _detect()


def __dir__() -> list[str]:
    """Only the public names (``__all__``): what ``dir()`` and tab completion show."""
    return sorted(__all__)
