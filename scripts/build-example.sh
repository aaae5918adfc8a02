#!/usr/bin/env bash
# Build the bundled example firmware: a SquashFS image of examples/smart-camera/rootfs made with
# mksquashfs (reproducible: fixed times, all files owned by root). Prints the image path.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/build/examples"
img="$out/smart-camera.sqfs"
mkdir -p "$out"
if [ ! -s "$img" ] || [ -n "$(find "$here/examples/smart-camera/rootfs" -newer "$img" -print -quit)" ]; then
  tmp=$(mktemp "$out/.smart-camera.XXXXXX")  # build aside, then rename: a parallel reader never sees half an image
  rm -f "$tmp"
  mksquashfs "$here/examples/smart-camera/rootfs" "$tmp" -comp gzip -all-root -noappend \
    -mkfs-time 0 -all-time 0 -no-progress -quiet >/dev/null
  mv -f "$tmp" "$img"
fi
echo "$img"
