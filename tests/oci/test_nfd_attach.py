"""An NFD image-compatibility artifact attached next to an image, with NFD's media types."""

from __future__ import annotations

from pathlib import Path

import yaml

from nameplate import oci
from tests.oci.conftest import make_record, push_image


def test_attach_exports_nfd_with_its_artifact_and_layer_types(tmp_path: Path) -> None:
    ref = f"oci:{tmp_path / 'layout'}:app:v1"
    push_image(ref)
    oci.attach(make_record(), ref, exports=["nfd"])
    (nfd,) = oci.discover(ref, artifact_type="application/vnd.nfd.image-compatibility.v1alpha1")
    manifest = oci.resolve(f"{ref.rsplit(':', 1)[0]}@{nfd.digest}").json
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.nfd.image-compatibility.spec.v1alpha1+yaml"
    with oci.open_blob(ref, layer["digest"]) as f:
        spec = yaml.safe_load(f.read())
    assert spec["version"] == "v1alpha1"
