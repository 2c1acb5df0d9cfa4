#!/usr/bin/env bash
# Build the CUDA fixtures of this folder with NVIDIA's compiler wheels from PyPI (no GPU needed),
# and record cuobjdump's view of each as the truth. CI reads the committed files; it never
# compiles CUDA. Run from this folder:  bash make.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=$(mktemp -d)/venv
python3 -m venv "$venv"
"$venv/bin/pip" install -q "nvidia-cuda-nvcc==13.5.37" "nvidia-cuda-cuobjdump==13.5.37" \
  "nvidia-cuda-runtime==13.5.37" "nvidia-cuda-crt==13.5.37"
cu=$("$venv/bin/python" -c 'import nvidia, os; print(os.path.join(nvidia.__path__[0], "cu13"))')
export PATH="$cu/bin:$PATH"
lnk=$(mktemp -d)
ln -s "$cu/lib/libcudart.so.13" "$lnk/libcudart.so"   # the wheel ships only the versioned name
cd "$here"
nvcc --version > nvcc-version.txt
build() {  # name, cudart (shared|static), -gencode values...
  local name=$1 rt=$2; shift 2
  local args=()
  for g in "$@"; do args+=(-gencode "$g"); done
  nvcc -shared -Xcompiler -fPIC -cudart "$rt" -L "$lnk" "${args[@]}" -o "$name" k.cu
  cuobjdump --list-elf --list-ptx "$name" > "$name.cuobjdump.txt" || true
  cuobjdump -ptx "$name" | grep -E '^\.(version|target)' > "$name.ptx-header.txt" || true
  # --list-elf names a family-specific cubin sm_100; its ELF header says arch = sm_100f
  cuobjdump -elf "$name" | grep -E '^arch = ' > "$name.cubin-arch.txt" || true
}
build sm80.so shared 'arch=compute_80,code=sm_80'
build sm90.so shared 'arch=compute_90,code=sm_90'
build sm90a.so shared 'arch=compute_90a,code=sm_90a'
build sm100a.so shared 'arch=compute_100a,code=sm_100a'
build sm100f.so shared 'arch=compute_100f,code=sm_100f'
build sm120.so shared 'arch=compute_120,code=sm_120'
build ptx90.so shared 'arch=compute_90,code=compute_90'
build ptx90a.so shared 'arch=compute_90a,code=compute_90a'
build sm90-static.so static 'arch=compute_90,code=sm_90'
build sm100f-ptx-static.so static 'arch=compute_100f,code=[sm_100f,compute_100f]'
rm -rf "$lnk" "$(dirname "$venv")"
