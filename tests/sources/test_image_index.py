"""index.json of the wrong shape, and descriptors with a bad ``size``: one-line SourceErrors
naming the file and the field, for layouts, ``oci-archive:`` and plain ``.tar`` inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from nameplate.cli import cli
from nameplate.errors import SourceError
from nameplate.sources import ExtractOptions, image
from nameplate.sources.image import stores
from tests import imagetools as it
from tests.conftest import FIXED_TIME

OPTS = ExtractOptions(clock=FIXED_TIME, platform="linux/amd64")
IMAGE = it.Image(layers=[it.tar_members([it.Member("etc/os-release", data=b"ID=debian\n")])])

BAD_INDEXES: list[tuple[Any, str]] = [
    ([], "an image index is a JSON object"),
    (42, "an image index is a JSON object"),
    ({"manifests": {}}, "manifests: not a list"),
    ({"manifests": [42]}, r"manifests\[0\]: not a descriptor object"),
    ({"manifests": [{"annotations": "x"}]}, r"manifests\[0\]\.annotations: not an object"),
    (
        {"manifests": [{"annotations": {"org.opencontainers.image.ref.name": 1}}]},
        r"manifests\[0\]\.annotations: org\.opencontainers\.image\.ref\.name is not a string",
    ),
    ({"manifests": [{"platform": "linux"}]}, r"manifests\[0\]\.platform: not an object"),
    ({"manifests": [{"size": "12"}]}, r"manifests\[0\]\.size: not a non-negative integer"),
    ({"manifests": [{"size": 1.5}]}, r"manifests\[0\]\.size: not a non-negative integer"),
    (
        {
            "manifests": [
                {"digest": 7, "annotations": {"org.opencontainers.image.ref.name": "latest"}}
            ]
        },
        r"manifests\[0\]: 7 is not a sha256/sha512 digest",
    ),
]


def _layout(tmp_path: Path, index: Any) -> Path:
    out = tmp_path / "layout"
    it.write_layout(out, [IMAGE])
    (out / "index.json").write_text(json.dumps(index))
    return out


def _refs(tmp_path: Path, index: Any) -> list[str]:
    """The same broken layout as a folder, an oci-archive: and a plain .tar."""
    out = _layout(tmp_path, index)
    archive = tmp_path / "img.tar"
    it.archive_folder(out, archive)
    return [f"oci:{out}", str(out), f"oci-archive:{archive}", str(archive)]


@pytest.mark.parametrize(("index", "message"), BAD_INDEXES)
def test_bad_index_shapes_are_source_errors(tmp_path: Path, index: Any, message: str) -> None:
    for ref in _refs(tmp_path, index):
        with pytest.raises(SourceError, match=f"index.json: {message}"):
            image.extract_all(ref, OPTS)
        # with a tag, the index is read the same way
        if ref.startswith(("oci:", "oci-archive:")):
            with pytest.raises(SourceError, match=f"index.json: {message}"):
                image.extract_all(f"{ref}:latest", OPTS)


@pytest.mark.parametrize("index", [[], 42, {"manifests": [{"annotations": "x"}]}])
def test_cli_extract_image_bad_index_exits_3(tmp_path: Path, index: Any) -> None:
    for ref in _refs(tmp_path, index):
        result = CliRunner().invoke(cli, ["extract", "image", ref], prog_name="nameplate")
        assert result.exit_code == 3, (ref, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert result.stderr.startswith("error: ") and "index.json" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_bad_layer_size_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "layout"
    digest = it.write_layout(out, [IMAGE])
    alg, _, hexpart = digest.partition(":")
    blob = out / "blobs" / alg / hexpart
    manifest = json.loads(blob.read_bytes())
    for size in ("12", -1, True, 1.5):
        manifest["layers"][0]["size"] = size
        data = it.canonical(manifest)
        new_digest = it.digest(data)
        (out / "blobs" / "sha256" / new_digest.split(":")[1]).write_bytes(data)
        index = json.loads((out / "index.json").read_bytes())
        index["manifests"][0]["digest"] = new_digest
        index["manifests"][0]["size"] = len(data)
        (out / "index.json").write_bytes(it.canonical(index))
        with pytest.raises(SourceError, match=r"layers\[0\]\.size: not a non-negative integer"):
            image.extract_all(f"oci:{out}", OPTS)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["manifests", "annotations", "digest", "size", "platform", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@pytest.mark.property
@given(index=_JSON, reference=st.none() | st.sampled_from(["latest", "v1"]))
def test_pick_entry_accepts_only_source_errors(index: Any, reference: str | None) -> None:
    try:
        picked = stores._pick_entry(index, reference, "index.json")
    except SourceError:
        return
    assert picked is None or picked.startswith(("sha256:", "sha512:"))


def test_a_large_file_that_is_not_an_archive_is_refused_at_once(tmp_path: Path) -> None:
    """``tarfile``'s ``r:*`` would try every decompressor over the whole file: minutes."""
    import time

    from nameplate import sources
    from nameplate.errors import SourceError

    zeros = tmp_path / "zeros.tar"
    with zeros.open("wb") as f:
        f.truncate(3 * 1024**3)  # sparse
    start = time.monotonic()
    with pytest.raises(SourceError, match="not an image archive"):
        sources.extract_all(zeros, kind="image")
    assert time.monotonic() - start < 30
