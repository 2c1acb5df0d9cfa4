"""Interop with the oras CLI 1.2.0 (Debian's package): each tool lists what the other attached,
on distribution (tag fallback), ggcr (referrers API) and an OCI layout."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nameplate import oci

from . import registries as regs
from .conftest import make_record, push_image

ORAS_TYPE = "application/vnd.example.meta.v1+json"


def _oras_listed(out: str) -> dict[str, str]:
    doc = json.loads(out)
    items = doc.get("manifests") or doc.get("referrers") or []
    return {d["digest"]: d.get("artifactType", "") for d in items}


@pytest.mark.parametrize("flavour", ["distribution", "ggcr"])
def test_both_tools_list_both(
    flavour: str,
    request: pytest.FixtureRequest,
    repo: str,
    tmp_path: Path,
    oras_cli: Callable[..., Any],
) -> None:
    reg: regs.Registry = request.getfixturevalue(flavour)
    t = reg.transport
    ref = reg.ref(f"{repo}:v1")
    subject = push_image(ref, transport=t)
    ours = oci.attach(make_record(), ref, transport=t)
    meta = tmp_path / "meta.json"
    meta.write_text('{"kind":"build-meta"}')
    oras_cli(
        "attach",
        "--plain-http",
        "--artifact-type",
        ORAS_TYPE,
        reg.ref(f"{repo}@{subject}"),
        f"{meta.name}:{ORAS_TYPE}",
        cwd=tmp_path,
    )
    listed = _oras_listed(
        oras_cli(
            "discover", "--plain-http", "--format", "json", reg.ref(f"{repo}@{subject}")
        ).stdout
    )
    assert len(listed) == 2 and ours.digest in listed
    if flavour == "distribution":  # ggcr lists config.mediaType (the empty type) for both
        assert set(listed.values()) == {oci.ARTIFACT_TYPE, ORAS_TYPE}
    mine = {d.digest: d.artifact_type for d in oci.discover(ref, transport=t)}
    assert mine[ours.digest] == oci.ARTIFACT_TYPE
    assert ORAS_TYPE in mine.values()
    # our record survives oras's read-modify-write of the fallback index
    assert oci.pull(ref, transport=t) == make_record()


def test_layout_both_ways(tmp_path: Path, oras_cli: Callable[..., Any]) -> None:
    layout = tmp_path / "layout"
    subject = push_image(f"oci:{layout}:v1")
    ours = oci.attach(make_record(), f"oci:{layout}:v1")
    meta = tmp_path / "meta.json"
    meta.write_text("{}")
    oras_cli(
        "attach",
        "--oci-layout",
        "--artifact-type",
        ORAS_TYPE,
        f"{layout}@{subject}",
        f"{meta.name}:{ORAS_TYPE}",
        cwd=tmp_path,
    )
    listed = _oras_listed(
        oras_cli("discover", "--oci-layout", "--format", "json", f"{layout}@{subject}").stdout
    )
    assert listed.get(ours.digest) == oci.ARTIFACT_TYPE
    assert ORAS_TYPE in listed.values()
    assert {d.artifact_type for d in oci.discover(f"oci:{layout}:v1")} == {
        oci.ARTIFACT_TYPE,
        ORAS_TYPE,
    }
    assert oci.pull(f"oci:{layout}:v1") == make_record()
