"""Checks that count only signed records (``--require-signed``): the record of a target comes
from :func:`nameplate.oci.pull_trusted`, and when no trusted key signed one the verdict is
*unknown* with the reason (finding ``trust.unsigned``), never a pass. A signed record's report
starts with the info finding ``trust.signed`` naming the key.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from .findings import Finding
from .report import Report

if TYPE_CHECKING:
    from ..oci import Transport
    from ..record import Record
    from ..sign import TrustedKeys

__all__ = ["TRUST_SIGNED", "TRUST_UNSIGNED", "signed_report", "trusted_target", "unsigned_report"]

TRUST_SIGNED = "trust.signed"
TRUST_UNSIGNED = "trust.unsigned"


def trusted_target(
    target: str,
    trusted: TrustedKeys,
    *,
    platform: str | None = None,
    transport: Transport | None = None,
) -> tuple[Record | None, str]:
    """The newest record attached to ``target`` signed by a trusted key and who signed it, or
    None and why not. A file or folder carries no signature: it never counts."""
    if Path(target).exists():
        return None, (
            f"{target}: a local file carries no signature: --require-signed counts only "
            "records attached in a registry or layout"
        )
    from .. import oci
    from .select import or_no_such_file

    return or_no_such_file(
        target,
        lambda: oci.pull_trusted(target, trusted, platform=platform, transport=transport),
    )


def unsigned_report(subject: str, host: str | None, reason: str) -> Report:
    """The report of a target without a trusted record: verdict unknown, with the reason."""
    return Report(
        subject=subject,
        host=host,
        findings=(Finding(code=TRUST_UNSIGNED, severity="unknown", reason=reason),),
    )


def signed_report(report: Report, signed_by: str) -> Report:
    """``report`` with the ``trust.signed`` finding first."""
    finding = Finding(code=TRUST_SIGNED, severity="info", reason=signed_by)
    return dataclasses.replace(report, findings=(finding, *report.findings))
