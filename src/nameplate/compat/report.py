"""The report of a compatibility check: every finding of every rule, and the verdict.

:func:`check` runs the rules of the registry (:data:`.rules.RULES`) for one record on one host.
The shared types (:class:`~.findings.Finding`, :class:`~.findings.Verdict`...) are in
:mod:`.findings`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .findings import CheckOptions, Finding, Severity, Verdict, verdict_of
from .rules import RULES

if TYPE_CHECKING:
    from ..record import Record
    from .profile import Host

__all__ = ["Finding", "Report", "Severity", "Verdict", "check", "verdict_of"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Report:
    """Every finding of every rule for one record on one host, and the verdict."""

    subject: str
    host: str | None
    findings: tuple[Finding, ...]

    @property
    def verdict(self) -> Verdict:
        """The verdict over all findings."""
        return verdict_of(self.findings)

    @property
    def why_not(self) -> tuple[str, ...]:
        """The reasons it fails or is unknown, ``code: reason`` each."""
        return tuple(
            f"{f.code}: {f.reason}" for f in self.findings if f.severity in ("fail", "unknown")
        )

    def codes(self, severity: Severity | None = None) -> tuple[str, ...]:
        """The finding codes, optionally of one severity."""
        return tuple(f.code for f in self.findings if severity in (None, f.severity))

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON data (``nameplate check -f json``)."""
        out: dict[str, Any] = {
            "subject": self.subject,
            "verdict": self.verdict.value,
            "why_not": list(self.why_not),
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.host:
            out["host"] = self.host
        return out

    def to_json(self) -> str:
        """Canonical JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_text(self) -> str:
        """A human summary: the verdict, then one line per finding. Strings from the record or
        the host are printed with control and bidirectional characters escaped
        (:func:`nameplate._terminal.printable`), so a name cannot forge or hide a line."""
        from .._terminal import printable

        mark = {"pass": "ok  ", "info": "info", "warn": "warn", "fail": "FAIL", "unknown": "??  "}
        lines = [
            f"{printable(self.subject)}: {self.verdict.value}"
            + (f" on {printable(self.host)}" if self.host else "")
        ]
        for f in self.findings:  # names come from records and hosts: escape what they hold
            about = f" [{printable(f.subject)}]" if f.subject else ""
            lines.append(f"  {mark[f.severity]} {f.code}{about}: {printable(f.reason)}")
        return "\n".join(lines) + "\n"


def check(
    record: Record,
    host: Host | None = None,
    *,
    options: CheckOptions | None = None,
    only: Iterable[str] | None = None,
) -> Report:
    """Run every rule (or those named in ``only``) for ``record`` on ``host``.

    ``host`` defaults to this machine (:func:`nameplate.compat.host.detect`).
    """
    if host is None:
        from .host import detect

        host = detect()
    opts = options or CheckOptions()
    names = list(RULES) if only is None else [n for n in RULES if n in set(only)]
    findings: list[Finding] = []
    for name in names:
        findings.extend(RULES[name](record, host, opts))
    label = record.subject.name + (f"@{record.subject.version}" if record.subject.version else "")
    return Report(subject=label, host=host.name or host.cpu.target, findings=tuple(findings))
