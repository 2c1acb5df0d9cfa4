"""Host profiles: CPU detection from real /proc/cpuinfo dumps, JSON round trip, schema."""

from __future__ import annotations

import json

import pytest

from nameplate import schema
from nameplate.compat.profile import Host, cpu_from_cpuinfo, host_from_json, normalize_flags
from nameplate.errors import CompatError

from ._helpers import HOSTS, h200

CPUINFO = sorted(p.name for p in HOSTS.glob("*.cpuinfo"))


def test_there_are_many_real_dumps() -> None:
    assert len(CPUINFO) >= 40


@pytest.mark.parametrize("name", CPUINFO)
def test_cpu_target_is_the_name(name: str) -> None:
    expected = name.removesuffix(".cpuinfo").split("-")[-1]
    cpu = cpu_from_cpuinfo((HOSTS / name).read_text())
    assert cpu.target == expected
    host = Host(cpu=cpu)
    schema.validate_host(host.to_dict())
    assert Host.from_dict(host.to_dict()) == host


def test_flags_are_normalised_like_archspec() -> None:
    cpu = cpu_from_cpuinfo((HOSTS / "linux-rhel7-haswell.cpuinfo").read_text())
    assert "sse3" in cpu.flags and "pni" in cpu.flags
    assert normalize_flags(("ssse3",)) == ("sse3", "ssse3")


def test_unknown_text_gives_no_target() -> None:
    cpu = cpu_from_cpuinfo("something: else\n")
    assert cpu.target is None and cpu.family is None


def test_h200_profile_round_trips() -> None:
    host = h200()
    assert host.cpu.target == "icelake"
    assert host.nvidia is not None and host.nvidia.cuda_version == "13.0"
    assert host.gpus[0].compute_capability == "9.0"
    assert host_from_json(host.to_json(), where="x") == host


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "h.json: not valid JSON"),
        ("[]", "h.json: $: a host profile is a JSON object"),
        ('{"schema_version": "1.0.0", "cpu": {"flags": 3}}', "h.json: invalid host profile"),
        ('{"schema_version": "9.9.9", "cpu": {}}', "unknown schema version"),
    ],
)
def test_bad_profiles_name_the_file(text: str, message: str) -> None:
    with pytest.raises(CompatError, match=r"^h\.json: ") as info:
        host_from_json(text, where="h.json")
    assert message in str(info.value)


def test_profile_json_is_canonical() -> None:
    text = h200().to_json()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
