"""Signed records on real registries and a layout: attach --sign, verify, check/select/index
--require-signed, and every refusal (changed record, changed envelope, wrong key, expired or
revoked OpenPGP key, replay for another image, a predicate that is not the attached record).

distribution 2.8.2 keeps the bundle referrers in the tag fallback, ggcr behind the referrers
API; both store cosign's ``sha256-<hex>.att`` image. The refusal scenarios are built on ggcr,
where a manifest can be deleted and disappears from the referrers list.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from nameplate import oci, sign
from nameplate.cli import cli
from nameplate.oci import manifest as m
from nameplate.oci.signed import att_tag
from nameplate.record import CpuTarget, Record
from tests.conftest import DATA
from tests.sign.keys import GpgHome, pem_pair

from . import registries as regs
from .conftest import make_record, push_image

pytestmark = pytest.mark.service

H200 = str(DATA / "hosts" / "linux-h200-icelake.host.json")


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), prog_name="nameplate", env=env)
    return result.exit_code, result.stdout, result.stderr


def targeted(n: int, target: str) -> Record:
    r = make_record(n)
    cpu = CpuTarget(name=target, family="x86_64", generic="x86_64_v3")
    return dataclasses.replace(r, hpc=dataclasses.replace(r.hpc, target=cpu, mpi=None))


def _read(st: Any, digest: str) -> bytes:
    with st.open_blob(digest) as f:
        data: bytes = f.read()
    return data


def save(record: Record, path: Path) -> str:
    path.write_text(record.to_json())
    return str(path)


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    site_key, site_pub = pem_pair(tmp_path, "site")
    ed_key, ed_pub = pem_pair(tmp_path, "ed", "ed25519")
    _, other_pub = pem_pair(tmp_path, "other")
    return {
        "key": site_key,
        "pub": site_pub,
        "ed-key": ed_key,
        "ed-pub": ed_pub,
        "other-pub": other_pub,
    }


def _where(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, repo: str
) -> tuple[str, list[str]]:
    if kind == "layout":
        return f"oci:{tmp_path}/store:app-1", []
    reg: regs.Registry = request.getfixturevalue(kind)
    return f"{reg.host}/{repo}:app-1", ["--plain-http"]


@pytest.mark.parametrize("kind", ["distribution", "ggcr", "layout"])
def test_round_trip(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, repo: str, keys: dict[str, Path]
) -> None:
    ref, http = _where(kind, request, tmp_path, repo)
    push_image(ref, transport=oci.Transport(plain_http=True))
    code, out, err = run("attach", save(make_record(1), tmp_path / "r1.json"), "--to", ref, *http)
    assert code == 0, err
    code, out, err = run(
        "attach", save(make_record(2), tmp_path / "r2.json"), "--to", ref, "--sign",
        str(keys["key"]), *http,
    )  # fmt: skip
    assert code == 0, err
    signed_digest = out.strip()
    assert err.count("signed: sha256:") == 2 and "sigstore bundle" in err and ".att" in err
    # a second key signs the same record: the .att image gets a second layer
    st, r = oci.open_store(ref, transport=oci.Transport(plain_http=True))
    subject = st.resolve(r.reference or "app-1")
    record_bytes = oci.pull_bytes(
        ref, digest=signed_digest, transport=oci.Transport(plain_http=True)
    )[1]
    oci.signed.sign_attached(
        st, subject.descriptor(), record_bytes, name=r.repo,
        signer=sign.load_signer(str(keys["ed-key"])), created="2026-01-02T00:00:00Z",
    )  # fmt: skip

    code, out, err = run("verify", ref, "--key", str(keys["pub"]), *http)
    assert code == 0, out + err
    assert f"record {signed_digest}" in out and f"signed by {keys['pub']}" in out
    assert "[sigstore bundle, cosign .att]" in out
    assert "1 of 2 records signed by a trusted key" in out
    code, out, _ = run("verify", ref, "--key", str(keys["pub"]), "--key", str(keys["ed-pub"]),
                       "-f", "json", *http)  # fmt: skip
    doc = json.loads(out)
    assert code == 0 and doc["verified"] is True and doc["refused"] == []
    signed = next(r for r in doc["records"] if r["digest"] == signed_digest)
    assert sorted(signed["signed_by"]) == sorted([str(keys["pub"]), str(keys["ed-pub"])])
    # the wrong key: nothing counts, exit 1, the reason for each signature
    code, out, _ = run("verify", ref, "--key", str(keys["other-pub"]), *http)
    assert code == 1
    assert out.count("not signed by a trusted key") >= 3 and "0 of 2 records" in out
    # cosign's .att image: two DSSE layers, a config listing them, hidden from the tags
    att = st.resolve(att_tag(subject.digest)).json
    assert [la["mediaType"] for la in att["layers"]] == [sign.ENVELOPE_MEDIA_TYPE] * 2
    assert all(
        la["annotations"]
        == {"dev.cosignproject.cosign/signature": "", "predicateType": sign.PREDICATE_TYPE}
        for la in att["layers"]
    )
    config = json.loads(_read(st, att["config"]["digest"]))
    assert config["rootfs"]["diff_ids"] == [la["digest"] for la in att["layers"]]
    assert att_tag(subject.digest) not in oci.list_tags(
        ref.rsplit(":", 1)[0], transport=oci.Transport(plain_http=True)
    )
    # the bundle referrer, as cosign --new-bundle-format writes it
    bundles = oci.discover(
        ref, artifact_type=sign.BUNDLE_MEDIA_TYPE, transport=oci.Transport(plain_http=True)
    )
    assert len(bundles) == 2
    doc = st.resolve(bundles[0].digest).json
    assert doc["artifactType"] == sign.BUNDLE_MEDIA_TYPE
    assert doc["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    assert doc["subject"]["digest"] == subject.digest
    assert doc["annotations"]["dev.sigstore.bundle.content"] == "dsse-envelope"
    assert doc["annotations"]["dev.sigstore.bundle.predicateType"] == sign.PREDICATE_TYPE
    assert [la["mediaType"] for la in doc["layers"]] == [sign.BUNDLE_MEDIA_TYPE]


def test_oras_lists_the_signature(
    distribution: regs.Registry, repo: str, tmp_path: Path, keys: dict[str, Path], oras_cli: Any
) -> None:
    ref = f"{distribution.host}/{repo}:app-1"
    push_image(ref, transport=distribution.transport)
    oci.attach_signed(
        make_record(1),
        ref,
        signer=sign.load_signer(str(keys["key"])),
        transport=distribution.transport,
    )
    listed = json.loads(oras_cli("discover", "--plain-http", "--format", "json", ref).stdout)
    types = {d.get("artifactType") for d in listed.get("manifests", listed.get("referrers", []))}
    assert {sign.BUNDLE_MEDIA_TYPE, oci.ARTIFACT_TYPE} <= types


def test_check_require_signed_uses_only_the_signed_record(
    distribution: regs.Registry, repo: str, tmp_path: Path, keys: dict[str, Path]
) -> None:
    ref = f"{distribution.host}/{repo}:app-1"
    push_image(ref, transport=distribution.transport)
    t = distribution.transport
    oci.attach_signed(
        targeted(1, "x86_64_v3"), ref, signer=sign.load_signer(str(keys["key"])), transport=t
    )
    oci.attach(targeted(2, "zen4"), ref, transport=t)  # newer, unsigned, fails on icelake
    env = {"NAMEPLATE_PLAIN_HTTP": distribution.host}
    code, out, _ = run("check", ref, "--host", H200, env=env)
    assert code == 1 and "zen4" in out  # the newest record
    code, out, err = run(
        "check",
        ref,
        "--host",
        H200,
        "--require-signed",
        "--key",
        str(keys["pub"]),
        "-f",
        "json",
        env=env,
    )
    report = json.loads(out)
    assert code == 0, out + err
    assert report["verdict"] == "pass"
    assert report["findings"][0] == {
        "code": "trust.signed",
        "severity": "info",
        "reason": f"signed by {keys['pub']}",
    }
    # an unknown key: unknown with the reason, never a pass
    code, out, _ = run("check", ref, "--host", H200, "--key", str(keys["other-pub"]), env=env)
    assert code == 3
    assert (
        "trust.unsigned" in out
        and "none of the 2 attached records is signed by a trusted key" in out
    )
    # a record file carries no signature
    code, out, _ = run("check", save(targeted(1, "x86_64_v3"), tmp_path / "r.json"), "--host", H200,
                       "--require-signed", "--key", str(keys["pub"]))  # fmt: skip
    assert code == 3 and "a local file carries no signature" in out
    code, _, err = run("check", ref, "--require-signed", env=env)
    assert code == 2 and "--key" in err


def test_select_and_index_require_signed(
    distribution: regs.Registry, repo: str, tmp_path: Path, keys: dict[str, Path]
) -> None:
    t = distribution.transport
    base = f"{distribution.host}/{repo}"
    for tag, target, signed in (("v3", "x86_64_v3", True), ("icelake", "icelake", False)):
        push_image(f"{base}:{tag}", transport=t, seed=tag)
        if signed:
            oci.attach_signed(
                targeted(1, target),
                f"{base}:{tag}",
                signer=sign.load_signer(str(keys["key"])),
                transport=t,
            )
        else:
            oci.attach(targeted(1, target), f"{base}:{tag}", transport=t)
    env = {"NAMEPLATE_PLAIN_HTTP": distribution.host}
    code, out, _ = run("select", base, "--host", H200, "-f", "json", env=env)
    assert code == 0 and json.loads(out)["best_tag"] == "icelake"  # the most specific target
    code, out, _ = run(
        "select",
        base,
        "--host",
        H200,
        "-f",
        "json",
        "--require-signed",
        "--key",
        str(keys["pub"]),
        env=env,
    )
    sel = json.loads(out)
    assert code == 0 and sel["best_tag"] == "v3"
    lost = next(c for c in sel["candidates"] if c["tag"] == "icelake")
    assert lost["verdict"] == "unknown" and "signed by a trusted key" in lost["why"]
    db = tmp_path / "cat.db"
    code, out, err = run(
        "index", base, "--catalog", str(db), "--require-signed", "--key", str(keys["pub"]), env=env
    )
    assert code == 0, err
    assert "indexed 1 records" in out and "icelake" not in out and "signed by a trusted key" in err


def _push_bundle(st: Any, subject: m.Descriptor, data: bytes) -> m.Descriptor:
    from nameplate.oci.artifacts import _push_artifact

    return _push_artifact(
        st, artifact_type=sign.BUNDLE_MEDIA_TYPE, layer_type=sign.BUNDLE_MEDIA_TYPE, payload=data,
        title="b.json", subject=subject, compat=False,
        annotations={"dev.sigstore.bundle.predicateType": sign.PREDICATE_TYPE},
    )  # fmt: skip


def _image(reg: regs.Registry, repo: str, tag: str) -> tuple[str, Any, m.Descriptor]:
    ref = f"{reg.host}/{repo}:{tag}"
    push_image(ref, transport=reg.transport, seed=tag)
    st, _ = oci.open_store(ref, transport=reg.transport)
    return ref, st, st.resolve(tag).descriptor()


def _verify(ref: str, pub: Path, reg: regs.Registry | None = None) -> tuple[int, str]:
    env = {"NAMEPLATE_PLAIN_HTTP": reg.host} if reg else None
    code, out, err = run("verify", ref, "--key", str(pub), env=env)
    assert "Traceback" not in out + err
    return code, out


def test_refused_changed_record(tmp_path: Path, keys: dict[str, Path]) -> None:
    ref = f"oci:{tmp_path}/store:app-1"
    push_image(ref)
    signer = sign.load_signer(str(keys["key"]))
    desc, _ = oci.attach_signed(targeted(1, "x86_64_v3"), ref, signer=signer)
    code, _ = _verify(ref, keys["pub"])
    assert code == 0
    # the record is replaced by a changed one; the signature cannot be
    oci.attach(targeted(1, "zen4"), ref)
    index = tmp_path / "store" / "index.json"
    doc = json.loads(index.read_text())
    doc["manifests"] = [d for d in doc["manifests"] if d["digest"] != desc.digest]
    index.write_text(json.dumps(doc))
    code, out = _verify(ref, keys["pub"])
    assert code == 1
    assert "is about a record that is not attached" in out and "not signed by a trusted key" in out


def test_refused_changed_envelope(ggcr: regs.Registry, repo: str, keys: dict[str, Path]) -> None:
    ref, st, subject = _image(ggcr, repo, "a")
    record = targeted(1, "x86_64_v3")
    oci.attach(record, ref, transport=ggcr.transport)
    signer = sign.load_signer(str(keys["key"]))
    env = sign.sign_record(
        record.to_json().encode(), name=repo, digest=subject.digest, signer=signer
    )
    payload = json.loads(env.payload)
    payload["predicate"]["hpc"]["target"]["name"] = "zen4"  # the record inside, edited
    changed = dataclasses.replace(env, payload=json.dumps(payload).encode())
    _push_bundle(st, subject, sign.make_bundle(changed, hint=signer.hint))
    code, out = _verify(ref, keys["pub"], ggcr)
    assert code == 1 and f"BAD signature by trusted key {keys['pub']}" in out and "changed" in out


def test_refused_replay_for_another_image(
    ggcr: regs.Registry, repo: str, keys: dict[str, Path]
) -> None:
    ref_a, st, _ = _image(ggcr, repo, "a")
    ref_b, _, subject_b = _image(ggcr, repo, "b")
    record = targeted(1, "x86_64_v3")
    oci.attach_signed(
        record,
        ref_a,
        signer=sign.load_signer(str(keys["key"])),
        formats=["bundle"],
        transport=ggcr.transport,
    )
    (bundle_desc,) = oci.discover(
        ref_a, artifact_type=sign.BUNDLE_MEDIA_TYPE, transport=ggcr.transport
    )
    layer = st.resolve(bundle_desc.digest).json["layers"][0]
    stolen = _read(st, layer["digest"])
    # the same record and A's valid signature, attached to B
    oci.attach(record, ref_b, transport=ggcr.transport)
    _push_bundle(st, subject_b, stolen)
    code, out = _verify(ref_b, keys["pub"], ggcr)
    assert code == 1
    assert f"replayed: the statement signed by {keys['pub']} is about sha256:" in out
    assert f"not {subject_b.digest}" in out


def test_refused_predicate_not_the_attached_record(
    ggcr: regs.Registry, repo: str, keys: dict[str, Path]
) -> None:
    ref, st, subject = _image(ggcr, repo, "a")
    oci.attach(targeted(1, "x86_64_v3"), ref, transport=ggcr.transport)
    other = targeted(7, "icelake")  # signed, about this image, but never attached
    signer = sign.load_signer(str(keys["key"]))
    env = sign.sign_record(
        other.to_json().encode(), name=repo, digest=subject.digest, signer=signer
    )
    _push_bundle(st, subject, sign.make_bundle(env, hint=signer.hint))
    code, out = _verify(ref, keys["pub"], ggcr)
    assert code == 1 and "its predicate is not the attached record" in out


@pytest.mark.parametrize("what", ["expired", "revoked"])
def test_refused_expired_or_revoked_openpgp_key(
    ggcr: regs.Registry, repo: str, tmp_path: Path, gpg_home: GpgHome, what: str
) -> None:
    fpr = gpg_home.generate("Spack Build Cache Key", created="20250101T000000")
    ref, _, _ = _image(ggcr, repo, "a")
    code, out, err = run(
        "attach", save(targeted(1, "x86_64_v3"), tmp_path / "r.json"), "--to", ref,
        "--sign", f"gpg:{fpr}", "--plain-http",
    )  # fmt: skip
    assert code == 0, err
    assert err.count("signed:") == 1  # an OpenPGP signature goes in a bundle only
    good = gpg_home.export(fpr, tmp_path / "good.asc")
    code, out = _verify(ref, good, ggcr)
    assert code == 0 and f"signed by {good} ({fpr})" in out
    gpg_home.expire(fpr) if what == "expired" else gpg_home.revoke(fpr)
    bad = gpg_home.export(fpr, tmp_path / "bad.asc")
    code, out = _verify(ref, bad, ggcr)
    reason = "has expired" if what == "expired" else "has been revoked"
    assert code == 1 and f"signed by OpenPGP key {fpr}, which {reason}" in out


def test_a_key_that_cannot_sign_pushes_nothing(
    distribution: regs.Registry, repo: str, tmp_path: Path, keys: dict[str, Path], gpg_home: GpgHome
) -> None:
    ref = f"{distribution.host}/{repo}:app-1"
    push_image(ref, transport=distribution.transport)
    tags_before = oci.list_tags(
        ref.rsplit(":", 1)[0], internal=True, transport=distribution.transport
    )
    rec = save(make_record(1), tmp_path / "r.json")
    enc, _ = pem_pair(tmp_path, "enc", password=b"pw")
    rsa_key, _ = pem_pair(tmp_path, "rsa", "rsa")
    cases = [
        (str(tmp_path / "missing.key"), "cannot read the private key"),
        (str(enc), "the key is encrypted: set $NAMEPLATE_KEY_PASSWORD"),
        (str(rsa_key), "nameplate signs with ECDSA P-256 or Ed25519"),
        ("gpg:NOSUCHKEY", "gpg could not sign with NOSUCHKEY"),
    ]
    for key, reason in cases:
        code, out, err = run(
            "attach",
            rec,
            "--to",
            ref,
            "--sign",
            key,
            "--plain-http",
            env={"NAMEPLATE_KEY_PASSWORD": ""},
        )
        assert code == 3, err
        assert err.startswith("error: ") and reason in err and err.count("\n") == 1
        assert out == ""
    assert oci.discover(ref, transport=distribution.transport) == []
    assert (
        oci.list_tags(ref.rsplit(":", 1)[0], internal=True, transport=distribution.transport)
        == tags_before
    )
    code, _, err = run("verify", ref, "--plain-http")
    assert code == 2 and "--key" in err


def test_a_record_of_another_image_is_refused_before_signing(
    tmp_path: Path, keys: dict[str, Path]
) -> None:
    ref = f"oci:{tmp_path}/store:app-1"
    push_image(ref)
    record = dataclasses.replace(
        make_record(1),
        subject=dataclasses.replace(make_record(1).subject, digest="sha256:" + "0" * 64),
    )
    rec = save(record, tmp_path / "other.json")
    code, out, err = run("attach", rec, "--to", ref, "--sign", str(keys["key"]))
    assert code == 3 and "the record describes sha256:000" in err and out == ""
    assert oci.discover(ref) == []
    code, _, err = run("attach", rec, "--to", ref, "--sign", str(keys["key"]), "--force")
    assert code == 0, err
    assert len(oci.discover(ref, artifact_type=sign.BUNDLE_MEDIA_TYPE)) == 1
