#!/bin/sh
# Rebuild rpmdb.sqlite and rpm-ql.txt in this folder with rpm's own tools (offline).
# Needs rpm >= 4.16 with rpmbuild (Debian 12: `apt-get install rpm`). Builds openmpi-libs.spec
# in a scratch _topdir, installs it with --justdb into an empty sqlite rpm database, and records
# rpm's own file listing of that database (rpm -qla) as the ground truth.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1767225600 # 2026-01-01T00:00:00Z: reproducible build times
rpmbuild -bb --quiet \
    --define "_topdir $work/top" \
    --define "_build_id_links none" \
    --define "debug_package %{nil}" \
    --define "use_source_date_epoch_as_buildtime 1" \
    "$here/openmpi-libs.spec"
mkdir "$work/db"
rpm --define '_db_backend sqlite' --initdb --dbpath "$work/db"
rpm --define '_db_backend sqlite' -i --justdb --nodeps --noscripts --dbpath "$work/db" \
    "$work"/top/RPMS/*/*.rpm 2>/dev/null
test -f "$work/db/rpmdb.sqlite"
rpm -qa --dbpath "$work/db" --qf '[%{=NAME}|%{FILENAMES}\n]' | sort >"$here/rpm-ql.txt"
cp "$work/db/rpmdb.sqlite" "$here/rpmdb.sqlite"
