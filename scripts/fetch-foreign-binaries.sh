#!/usr/bin/env bash
# Real foreign-architecture binaries for the tests, downloaded as .deb files (not installed) into build/debs:
# Debian's busybox-static for armhf, mipsel and arm64; the daemons of a typical router (dropbear, lighttpd,
# mosquitto, dnsmasq, hostapd, ...) and the libraries embedded products ship (OpenSSL, wolfSSL, mbed TLS,
# libcurl, zlib, SQLite, expat, libxml2, glibc, musl, ...) for mipsel, whose version strings are real; and two
# architecture-independent packages (jQuery, U-Boot for QEMU). Needs root the first time, to enable the
# architectures in dpkg; cached afterwards. A package that cannot be had is left out with a warning: the tests
# that need it skip (or fail under CI) without it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest="$here/build/debs"
arches=(armhf mipsel arm64)
packages="busybox-static:armhf busybox-static:mipsel busybox-static:arm64 dropbear-bin:mipsel lighttpd:mipsel
mosquitto:mipsel libssl3:mipsel libcurl4:mipsel curl:mipsel dnsmasq-base:mipsel hostapd:mipsel
wpasupplicant:mipsel zlib1g:mipsel libsqlite3-0:mipsel libexpat1:mipsel libxml2:mipsel openssh-server:mipsel
openssh-client:mipsel iptables:mipsel libwolfssl35:mipsel libmbedcrypto7:mipsel openvpn:mipsel ppp:mipsel
chrony:mipsel avahi-daemon:mipsel libdbus-1-3:mipsel libpng16-16:mipsel libc6:mipsel musl:mipsel
miniupnpd-iptables:mipsel nginx:mipsel mini-httpd:mipsel liblua5.1-0:mipsel samba:mipsel ntpsec:mipsel
libpcre2-8-0:mipsel libjs-jquery:all u-boot-qemu:all"
have() { ls "$dest/${1%%:*}"_*_"${1##*:}".deb >/dev/null 2>&1; }
mkdir -p "$dest"
missing=""
for p in $packages; do have "$p" || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
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
# one package at a time, so that one that is gone from the archive does not cost the others; a mirror in
# the middle of a sync fails an index now and then: refresh once and retry, then give up with a warning
# (the tests that need the package say why they skip) rather than failing the set-up
failed=""
for p in $missing; do apt-get download -qq "$p" >/dev/null 2>&1 || failed="$failed $p"; done
if [ -n "$failed" ]; then
  apt-get update -qq >/dev/null 2>&1 || true
  for p in $failed; do
    apt-get download -qq "$p" >/dev/null 2>&1 ||
      echo "fetch-foreign-binaries: could not download $p; tests needing it will skip" >&2
  done
fi
chmod 0755 "$dest"
