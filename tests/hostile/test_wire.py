"""Hostile registries: a ``Link`` header that names the same page again, answers dripped one
byte at a time, descriptors whose size disagrees with the content. Each runs the real registry
behind a front that changes only the answer under test (``proxy.py``), and the CLI in a child
process that must end in one ``error:`` line, exit 4, within 10 s."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from nameplate import oci
from nameplate.oci import Transport
from nameplate.oci import manifest as m
from tests.oci import registries as regs
from tests.oci.conftest import make_record, push_image

from ._run import run_cli
from .proxy import Behaviour, hostile_front, same_page_again

pytestmark = pytest.mark.service

PLAIN = {"NAMEPLATE_PLAIN_HTTP": "1"}


def _subject(reg: regs.Registry, *, attach: int = 1) -> str:
    """A fresh image in ``reg`` with ``attach`` records attached; its repository:tag."""
    ref = reg.ref(f"hostile/{uuid.uuid4().hex[:10]}:v1")
    push_image(ref, transport=reg.transport)
    for n in range(attach):
        oci.attach(make_record(n), ref, transport=reg.transport)
    return ref.split("/", 1)[1]


def test_referrers_link_to_the_same_page_ends(ggcr: regs.Registry) -> None:
    """ggcr has the referrers API; the front makes every referrers page name itself as next."""
    repo = _subject(ggcr)
    behaviour = Behaviour(rewrite=same_page_again(r"/referrers/"))
    with hostile_front(ggcr.host, behaviour) as front:
        result = run_cli("discover", f"{front}/{repo}", "--plain-http", env=PLAIN)
    result.assert_error(4, "referrers of sha256:", "page already read")
    assert sum("/referrers/" in s for s in behaviour.seen) == 1, behaviour.seen


def test_tags_link_to_the_same_page_ends(distribution: regs.Registry) -> None:
    """distribution has no referrers API: ``reindex`` lists tags, and each page names itself."""
    repo = _subject(distribution)
    behaviour = Behaviour(rewrite=same_page_again(r"/tags/list"))
    with hostile_front(distribution.host, behaviour) as front:
        result = run_cli("reindex", f"{front}/{repo}", "--plain-http", env=PLAIN)
    result.assert_error(4, "tags", "page already read")
    assert sum("/tags/list" in s for s in behaviour.seen) == 1, behaviour.seen


def test_a_link_to_another_host_is_refused(distribution: regs.Registry) -> None:
    repo = _subject(distribution)

    def elsewhere(method, path, status, headers, body):  # type: ignore[no-untyped-def]
        if "/tags/list" not in path:
            return None
        return status, [*headers, ("Link", '<http://203.0.113.9/v2/x/tags/list>; rel="next"')], body

    with hostile_front(distribution.host, Behaviour(rewrite=elsewhere)) as front:
        result = run_cli("reindex", f"{front}/{repo}", "--plain-http", env=PLAIN)
    result.assert_error(4, "next page is on another host (203.0.113.9)")


@pytest.mark.parametrize("body_only", [False, True], ids=["whole-answer", "body"])
def test_a_dripping_registry_meets_the_deadline(
    distribution: regs.Registry, body_only: bool
) -> None:
    """One byte every 0.5 s (per-read timeouts never fire): the 3 s deadline ends it."""
    repo = _subject(distribution)
    behaviour = Behaviour(
        drip_paths=re.compile(r"/manifests/v1$"), drip_every=0.5, drip_body_only=body_only
    )
    with hostile_front(distribution.host, behaviour) as front:
        result = run_cli(
            "discover",
            f"{front}/{repo}",
            "--plain-http",
            env={**PLAIN, "NAMEPLATE_DEADLINE": "3"},
        )
    line = result.assert_error(4, "/manifests/v1", "no complete answer within 3 s")
    assert result.seconds < 3 + 3, (result.seconds, line)


def test_a_dripping_blob_is_cut_off(distribution: regs.Registry) -> None:
    """A blob download must average 16 KiB/s once the grace period is over."""
    repo = _subject(distribution)
    behaviour = Behaviour(
        drip_paths=re.compile(r"/blobs/sha256:"), drip_every=0.2, drip_body_only=True
    )
    with hostile_front(distribution.host, behaviour) as front:
        result = run_cli(
            "pull", f"{front}/{repo}", "--plain-http", env={**PLAIN, "NAMEPLATE_DEADLINE": "2"}
        )
    result.assert_error(4, "arrives too slowly")


def _lying_record(reg_or_ref: str, transport: Transport | None) -> tuple[str, int]:
    """Attach a record, then a copy of its artifact manifest whose layer descriptor says one
    byte more than the blob holds (same digest). Returns (copy's digest, true size)."""
    desc = oci.attach(make_record(7), reg_or_ref, transport=transport)
    st, _ = oci.open_store(reg_or_ref, transport=transport)
    doc = json.loads(st.resolve(desc.digest).data)
    size = doc["layers"][0]["size"]
    doc["layers"][0]["size"] = size + 1
    doc["annotations"]["org.opencontainers.image.created"] = "2027-01-01T00:00:00Z"
    lying = st.put_manifest(m.canonical_json(doc), doc["mediaType"])
    return lying.digest, size


def test_registry_record_with_a_wrong_size_is_refused(distribution: regs.Registry) -> None:
    ref = distribution.ref(_subject(distribution, attach=0))
    digest, size = _lying_record(ref, distribution.transport)
    result = run_cli("pull", ref, "--digest", digest, "--plain-http", env=PLAIN)
    result.assert_error(4, f"size is {size + 1} bytes, the content has {size}")
    newest = run_cli("pull", ref, "--plain-http", env=PLAIN)  # the lie is the newest: refused
    newest.assert_error(4, f"size is {size + 1} bytes")
