#!/usr/bin/env bash
# Real foreign-architecture binaries for the tests: Debian's busybox-static for armhf, mipsel and arm64, and
# the daemons of a typical router (dropbear, lighttpd, mosquitto) for mipsel, downloaded as .deb files (not
# installed) into build/debs. Needs root the first time, to enable the
# architectures in dpkg; cached afterwards. Tests that need them skip (or fail under CI) without them.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest="$here/build/debs"
arches=(armhf mipsel arm64)
packages="busybox-static:armhf busybox-static:mipsel busybox-static:arm64 dropbear-bin:mipsel lighttpd:mipsel mosquitto:mipsel"
mkdir -p "$dest"
missing=0
for p in $packages; do ls "$dest/${p%%:*}"_*_"${p##*:}".deb >/dev/null 2>&1 || missing=1; done
[ "$missing" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "fetch-foreign-binaries: not root, skipping (tests that need foreign binaries will skip)" >&2
  exit 0
fi
added=0
for a in "${arches[@]}"; do
  if ! dpkg --print-foreign-architectures | grep -qx "$a"; then dpkg --add-architecture "$a"; added=1; fi
done
if [ "$added" -eq 1 ]; then apt-get update -qq || true; fi
cd "$dest"
chmod 0777 "$dest"  # apt's download sandbox user must be able to write here
# a mirror in the middle of a sync fails an index now and then: refresh once and retry, then give up
# with a warning (the tests that need these binaries say why they skip) rather than failing the set-up
if ! apt-get download -qq $packages >/dev/null 2>&1; then
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get download -qq $packages >/dev/null 2>&1 ||
    echo "fetch-foreign-binaries: could not download $packages; tests needing them will skip" >&2
fi
chmod 0755 "$dest"
