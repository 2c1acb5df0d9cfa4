"""The small shared types of a compatibility check: findings, severities, verdicts, options.

A :class:`Finding` has a stable ``code`` (``cpu.features``, ``libc.too-old``...), a severity and
a one-line reason. The verdict is all-of over the findings: any ``fail`` fails; otherwise any
``unknown`` makes it unknown (a fact the record needs could not be learnt about the host: never a
silent pass); otherwise it passes. ``warn`` and ``info`` never change the verdict. The rules
(:mod:`.rules`) import these; the registry gathers the rules; :mod:`.report` runs them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..errors import EXIT_FAIL, EXIT_OK, EXIT_UNKNOWN

if TYPE_CHECKING:
    from ..record import Record
    from .profile import Host

__all__ = ["CheckOptions", "Finding", "Rule", "Severity", "Verdict", "verdict_of"]

Severity = Literal["pass", "info", "warn", "fail", "unknown"]


class Verdict(str, enum.Enum):
    """The answer to "will it run here?"."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    UNKNOWN = "unknown"

    @property
    def exit_code(self) -> int:
        """0 pass, 1 fail, 3 unknown (the CLI contract)."""
        return {"pass": EXIT_OK, "fail": EXIT_FAIL, "unknown": EXIT_UNKNOWN}[self.value]


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    """One outcome of one rule: a stable code, a severity, the reason, what it is about."""

    code: str
    severity: Severity
    reason: str
    subject: str | None = None

    def to_dict(self) -> dict[str, str]:
        """The finding as JSON data."""
        out = {"code": self.code, "severity": self.severity, "reason": self.reason}
        if self.subject:
            out["subject"] = self.subject
        return out


def verdict_of(findings: Iterable[Finding]) -> Verdict:
    """All-of: fail beats unknown beats pass."""
    severities = {f.severity for f in findings}
    if "fail" in severities:
        return Verdict.FAIL
    if "unknown" in severities:
        return Verdict.UNKNOWN
    return Verdict.PASS


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckOptions:
    """Choices a check needs beyond record and host: the MPI portability mode (HPC3 names, or
    ``contained``); None means: the record's HPC3 annotation, else the subject's default."""

    mpi_mode: str | None = None


Rule = Callable[["Record", "Host", CheckOptions], list[Finding]]
