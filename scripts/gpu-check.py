#!/usr/bin/env python3
"""The one prepared GPU check: compare nameplate's libcuda (ctypes) probe with nvidia-smi.

Run on a machine with an NVIDIA GPU, from the repository root:
    .venv/bin/python scripts/gpu-check.py      (or python3 with src/ on PYTHONPATH)
Prints both views and exits 0 when the driver version, CUDA version, names and compute
capabilities agree, 1 when they differ, 2 when there is no GPU or no nvidia-smi.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from nameplate.compat.host import detect, parse_nvidia_smi, probe_cuda


def main() -> int:
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,compute_cap", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout
        cuda_line = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"no nvidia-smi: {exc}")
        return 2
    smi_driver, smi_gpus = parse_nvidia_smi(smi)
    cuda, gpus = probe_cuda()
    host = detect()
    print("nvidia-smi:", smi.strip().replace("\n", " | "))
    print("nvidia-smi header CUDA:", next((ln for ln in cuda_line.splitlines() if "CUDA Version" in ln), "?").strip())
    print("ctypes libcuda: CUDA", cuda, [(g.name, g.compute_capability) for g in gpus])
    print("detect():", json.dumps(host.to_dict().get("nvidia")), [g.compute_capability for g in host.gpus])
    ok = (
        [(g.name, g.compute_capability) for g in gpus] == [(g.name, g.compute_capability) for g in smi_gpus]
        and host.nvidia is not None
        and host.nvidia.driver_version == smi_driver
        and f"CUDA Version: {cuda}" in cuda_line
    )
    print("AGREE" if ok else "DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
