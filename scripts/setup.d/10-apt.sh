#!/usr/bin/env bash
# Debian packages every test area needs, one list per area in scripts/apt.d/*.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
pkgs=$(cat scripts/apt.d/*.txt 2>/dev/null | sed 's/#.*//' | xargs -r echo)
[ -n "$pkgs" ] || exit 0
missing=$(for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
[ -n "$missing" ] || exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
