#!/usr/bin/env bash
# OCI test tools, idempotent, from Debian only (bookworm + trixie pool via apt-get download):
#  - .cache/bin/oras           the oras CLI 1.2.0 (trixie's static binary, dpkg -x), interop oracle
#  - .cache/bin/ggcr-registry  go-containerregistry's pkg/registry (referrers API), built from
#                              trixie's golang-github-google-go-containerregistry-dev source
#                              package with bookworm's Go 1.19 (GOPATH mode, no module download)
# distribution's docker-registry, htpasswd, openssl and Go come from scripts/apt.d/oci.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$PWD/.cache/bin
mkdir -p "$BIN"
if [ -x "$BIN/oras" ] && [ -x "$BIN/ggcr-registry" ]; then exit 0; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/lists/partial" "$T/cache/archives/partial" "$T/x"
URI=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
URI=${URI:-http://deb.debian.org/debian}
echo "deb $URI trixie main" > "$T/sources.list"
O=(-o Dir::Etc::sourcelist="$T/sources.list" -o Dir::Etc::sourceparts=/dev/null
   -o Dir::State::Lists="$T/lists" -o Dir::Cache="$T/cache" -o Dir::State::status=/dev/null
   -o APT::Architecture=amd64 -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt-get "${O[@]}" update -qq
(cd "$T" && apt-get "${O[@]}" download oras golang-github-google-go-containerregistry-dev >/dev/null)
for deb in "$T"/*.deb; do dpkg -x "$deb" "$T/x"; done
install -m 0755 "$T/x/usr/bin/oras" "$BIN/oras"
mkdir -p "$T/src/ggcr-registry"
cat > "$T/src/ggcr-registry/main.go" <<'GO'
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	log.Fatal(http.ListenAndServe(*addr, registry.New(registry.WithReferrersSupport(true))))
}
GO
GO=$(ls -d /usr/lib/go-1.*/bin/go 2>/dev/null | sort -V | tail -1)
(cd "$T/src/ggcr-registry" && GOPATH="$T/x/usr/share/gocode" GO111MODULE=off GOCACHE="$T/gocache" \
   "$GO" build -o "$BIN/ggcr-registry" .)
"$BIN/oras" version | sed -n 1p  # sed reads to the end: no SIGPIPE under pipefail
