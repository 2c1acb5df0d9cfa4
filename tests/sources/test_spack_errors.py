"""Bad Spack input: one line naming the file and the field, exit code 3, no output file."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from nameplate.cli import cli
from nameplate.errors import UnsupportedFormat
from nameplate.sources.spack.buildcache import _check_layout
from nameplate.sources.spack.specfile import specfile_version
from tests.conftest import DATA, need

SPACK = DATA / "spack"
STORE = SPACK / "spack1.3-fake-store/opt/spack"
ZLIB = "linux-icelake/zlib-ng-2.3.3-g32vemqewbcc2j2pcffahyu2y4kfw4t6"
SIGNED_V3 = SPACK / "spack1.3-fake-store/buildcache/file-v3-signed"
FIXTURE_KEY = SPACK / "spack1.3-fake-store/buildcache/fixture-signing-key.pub"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), prog_name="nameplate")
    return result.exit_code, result.output


def assert_one_line_error(code: int, output: str, *must: str) -> None:
    assert code == 3, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert "Traceback" not in output
    for text in must:
        assert text in lines[0], (text, lines[0])


def prefix_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "zlib-ng"
    shutil.copytree(STORE / ZLIB, dest)
    return dest


def edit_json(path: Path, change: Callable[[dict], None]) -> None:  # type: ignore[type-arg]
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_truncated_json(tmp_path: Path) -> None:
    prefix = prefix_copy(tmp_path)
    spec = prefix / ".spack/spec.json"
    spec.write_bytes(spec.read_bytes()[:500])
    out = tmp_path / "out.json"
    code, output = run("extract", "spack", str(prefix), "-o", str(out))
    assert_one_line_error(code, output, str(spec), "not valid JSON")
    assert not out.exists()


def test_unknown_specfile_version(tmp_path: Path) -> None:
    prefix = prefix_copy(tmp_path)
    edit_json(prefix / ".spack/spec.json", lambda d: d["spec"]["_meta"].update(version=99))
    out = tmp_path / "out.json"
    code, output = run("extract", "spack", str(prefix), "-o", str(out))
    assert_one_line_error(code, output, "spec.json", "$.spec._meta.version", "99")
    assert not out.exists()


def test_unknown_lockfile_version(tmp_path: Path) -> None:
    env = tmp_path / "env"
    shutil.copytree(SPACK / "spack1.3-fake-store/env", env)
    edit_json(env / "spack.lock", lambda d: d["_meta"].update({"lockfile-version": 42}))
    code, output = run("extract", "spack", str(env), "-o", str(tmp_path / "o.json"))
    assert_one_line_error(code, output, "spack.lock", "$._meta.lockfile-version", "42")
    assert not (tmp_path / "o.json").exists()


def test_unknown_db_version(tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(STORE, store)
    edit_json(store / ".spack-db/index.json", lambda d: d["database"].update(version="99"))
    code, output = run("extract", "spack", str(store))
    assert_one_line_error(code, output, "index.json", "$.database.version", "99")


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 1e400])
def test_a_version_that_is_no_integer_is_unsupported(value: float) -> None:
    # Found by the fuzz pass: int(inf) raised OverflowError, a traceback instead of exit 2.
    with pytest.raises(UnsupportedFormat, match=r"\$\.spec\._meta\.version"):
        specfile_version({"spec": {"_meta": {"version": value}, "nodes": []}}, "x")
    with pytest.raises(UnsupportedFormat, match=r"\$\.buildcache_layout_version"):
        _check_layout({"buildcache_layout_version": value}, "x")


def test_future_buildcache_layout() -> None:
    path = SPACK / "spack-test-data/mirrors/future_layout"
    code, output = run("extract", "spack", str(path))
    assert_one_line_error(code, output, "$.buildcache_layout_version", "'10'")


def test_dangling_dependency_hash(tmp_path: Path) -> None:
    prefix = prefix_copy(tmp_path)

    def dangle(d: dict) -> None:  # type: ignore[type-arg]
        d["spec"]["nodes"][0]["dependencies"][0]["hash"] = "a" * 32

    edit_json(prefix / ".spack/spec.json", dangle)
    out = tmp_path / "out.json"
    code, output = run("extract", "spack", str(prefix), "-o", str(out))
    assert_one_line_error(code, output, "spec.json", "dependencies[0].hash", "a" * 32)
    assert not out.exists()


def test_prefix_in_db_missing_on_disk(tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(STORE, store)
    shutil.rmtree(store / ZLIB)
    out = tmp_path / "out"
    code, output = run("extract", "spack", str(store), "-o", str(out))
    assert_one_line_error(code, output, "index.json", "g32vemqewbcc2j2pcffahyu2y4kfw4t6.path")
    assert "missing on disk" in output
    assert not out.exists()


def test_huge_file_in_place_of_spec_json(tmp_path: Path) -> None:
    prefix = prefix_copy(tmp_path)
    spec = prefix / ".spack/spec.json"
    with spec.open("wb") as f:  # 2 GB, sparse: costs no disk
        f.truncate(2 * 1024**3)
    code, output = run("extract", "spack", str(prefix))
    assert_one_line_error(code, output, str(spec), "limit")


# ------------------------------------------------------------------ signatures


def gpg_available() -> None:
    need(shutil.which("gpg") is not None, "gpg (Debian package gnupg) is not installed")


def test_signed_v3_cache_verifies_with_the_fixture_key() -> None:
    gpg_available()
    code, output = run(
        "extract", "spack", str(SIGNED_V3), "--verify-signatures", "--public-key", str(FIXTURE_KEY)
    )
    assert code == 0, output
    record = json.loads(output)
    assert any(e["kind"] == "openpgp-signature" for e in record["evidence"])
    assert not any(u.get("field") == "signature" for u in record.get("unknowns", []))


def test_signed_cache_without_verification_says_so() -> None:
    code, output = run("extract", "spack", str(SIGNED_V3))
    assert code == 0, output
    unknowns = json.loads(output)["unknowns"]
    assert any(u["field"] == "signature" and "not verified" in u["reason"] for u in unknowns)


def _tamper(path: Path) -> None:
    text = path.read_text()
    tampered, n = re.subn(
        r'"contentLength":(\d+)', lambda m: f'"contentLength":{int(m[1]) + 1}', text, count=1
    )
    assert n == 1
    path.write_text(tampered)


def test_tampered_signed_v3_manifest_fails_verification(tmp_path: Path) -> None:
    gpg_available()
    cache = tmp_path / "cache"
    shutil.copytree(SIGNED_V3, cache)
    (manifest,) = (cache / "v3/manifests/spec").rglob("*.spec.manifest.json")
    _tamper(manifest)
    out = tmp_path / "out.json"
    code, output = run(
        "extract",
        "spack",
        str(cache),
        "--verify-signatures",
        "--public-key",
        str(FIXTURE_KEY),
        "-o",
        str(out),
    )
    assert_one_line_error(code, output, manifest.name, "BAD signature")
    assert not out.exists()


def test_tampered_signed_flat_spec_fails_verification(tmp_path: Path) -> None:
    gpg_available()
    cache = tmp_path / "cache"
    shutil.copytree(SPACK / "spack-test-data/mirrors/v2_layout/signed", cache)
    sig = next((cache / "build_cache").glob("*libelf*.spec.json.sig"))
    sig.write_text(sig.read_text().replace('"version":"0.8.13"', '"version":"0.8.14"', 1))
    (key,) = (cache / "build_cache/_pgp").glob("*.pub")
    code, output = run(
        "extract", "spack", str(cache), "--verify-signatures", "--public-key", str(key)
    )
    assert_one_line_error(code, output, sig.name, "BAD signature")


def test_a_key_that_did_not_sign_is_refused() -> None:
    gpg_available()
    other = next(
        (SPACK / "spack-test-data/mirrors/v2_layout/signed/build_cache/_pgp").glob("*.pub")
    )
    code, output = run(
        "extract", "spack", str(SIGNED_V3), "--verify-signatures", "--public-key", str(other)
    )
    assert_one_line_error(code, output, "not among the given public keys")


def test_verification_of_an_unsigned_cache_is_an_error() -> None:
    code, output = run(
        "extract",
        "spack",
        str(SPACK / "spack1.3-fake-store/buildcache/file-v3-unsigned"),
        "--verify-signatures",
        "--public-key",
        str(FIXTURE_KEY),
    )
    assert_one_line_error(code, output, "not signed")


@pytest.mark.parametrize("blob_change", ["flip"])
def test_tampered_v3_blob_is_detected_even_unsigned(tmp_path: Path, blob_change: str) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(SPACK / "spack1.3-fake-store/buildcache/file-v3-unsigned", cache)
    manifest = next((cache / "v3/manifests/spec").rglob("zlib-ng*.spec.manifest.json"))
    entry = next(e for e in json.loads(manifest.read_text())["data"] if "spec" in e["mediaType"])
    blob = cache / "blobs/sha256" / entry["checksum"][:2] / entry["checksum"]
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    code, output = run("extract", "spack", str(cache))
    assert_one_line_error(code, output, entry["checksum"], "does not match its sha256")


def test_a_tampered_install_tarball_is_an_unknown_not_a_fact(tmp_path: Path) -> None:
    """The root's install tarball no longer matches its manifest: the record is written, says
    so for sources, licenses and the builder, and takes nothing from the tarball."""
    cache = tmp_path / "cache"
    shutil.copytree(SPACK / "spack1.3-fake-store/buildcache/file-v3-unsigned", cache)
    manifest = next(cache.glob("v3/manifests/spec/hdf5/*.spec.manifest.json"))
    (tarball,) = [
        e["checksum"]
        for e in json.loads(manifest.read_text())["data"]
        if "install" in e["mediaType"]
    ]
    blob = cache / "blobs/sha256" / tarball[:2] / tarball
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    out = tmp_path / "r.json"
    code, output = run("extract", "spack", str(cache), "-o", str(out))
    assert code == 0, output
    record = json.loads(out.read_text())
    reasons = {u["field"]: u["reason"] for u in record["unknowns"]}
    for field in ("components.sources", "components.licenses", "provenance.builder"):
        assert "does not match its sha256" in reasons[field], reasons
    assert not any(c.get("sources") or c.get("licenses") for c in record["components"])
    assert "version" not in record["provenance"]["builder"]
