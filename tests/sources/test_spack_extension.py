"""``spack nameplate push``: the parts that do not need Spack (its arguments, the mirror URL,
the tags it attaches to). Resolving a mirror name and specs needs Spack itself, which CI does
not install; the attaching is :func:`nameplate.spack_cache.attach_cache`, tested against real
registries in ``tests/oci/test_spack_cache.py``."""

from __future__ import annotations

import argparse
import importlib.util
from types import ModuleType

from nameplate import spack_extension
from nameplate.spack_cache import is_spec_tag, spec_tag
from tests.oci.test_spack_cache import SPEC_TAGS


def command_module() -> ModuleType:
    path = spack_extension.extension_path() / "nameplate" / "cmd" / "nameplate.py"
    spec = importlib.util.spec_from_file_location("spack_nameplate_cmd", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # imports json and sys only: Spack is imported on use
    return module


def test_push_arguments() -> None:
    cmd = command_module()
    parser = argparse.ArgumentParser(prog="spack nameplate")
    cmd.setup_parser(parser)
    args = parser.parse_args(["push", "ocicache", "/cw5cxc5", "zstd", "--sign", "site.key"])
    assert args.nameplate_command == "push"
    assert (args.mirror, args.specs, args.sign, args.signature_format) == (
        "ocicache",
        ["/cw5cxc5", "zstd"],
        "site.key",
        "both",
    )
    assert parser.parse_args(["push", "oci://r/x"]).specs == []


def test_mirror_urls() -> None:
    cmd = command_module()
    assert cmd.oci_repository("oci://ghcr.io/site/cache") == ("ghcr.io/site/cache", False)
    assert cmd.oci_repository("oci+http://127.0.0.1:58591/spack2/") == (
        "127.0.0.1:58591/spack2",
        True,
    )
    assert cmd.oci_repository("file:///mirror") == (None, False)


def test_spec_tags_are_spacks() -> None:
    # the tags Spack 1.3 gave the images of the real build cache
    for tag in SPEC_TAGS:
        assert is_spec_tag(tag)
        name_version, _, rest = tag.rpartition("-")
        name, _, version = name_version.rpartition("-")
        assert spec_tag(name, version, rest.removesuffix(".spack")) == tag
    assert not is_spec_tag("index.spack")
    long = spec_tag("py-" + "x" * 150, "1.0", "a" * 32)
    assert len(long) == 128 and long.endswith("-" + "a" * 32 + ".spack")
    assert spec_tag("a+b", "1.0", "a" * 32) == "a_b-1.0-" + "a" * 32 + ".spack"
