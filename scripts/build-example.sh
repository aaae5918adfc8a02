#!/usr/bin/env bash
# Build the bundled example firmware: a SquashFS image of examples/smart-camera/rootfs made with
# mksquashfs (reproducible: fixed times, all files owned by root). Prints the image path.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/build/examples"
img="$out/smart-camera.sqfs"
mkdir -p "$out"
if [ ! -s "$img" ] || [ -n "$(find "$here/examples/smart-camera/rootfs" -newer "$img" -print -quit)" ]; then
  rm -f "$img"
  mksquashfs "$here/examples/smart-camera/rootfs" "$img" -comp gzip -all-root -noappend \
    -mkfs-time 0 -all-time 0 -no-progress -quiet >/dev/null
fi
echo "$img"
