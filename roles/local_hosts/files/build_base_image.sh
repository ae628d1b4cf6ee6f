#!/usr/bin/env bash
# Build the Debian 12 systemd base image for local hosts with debootstrap and
# `docker import` it under the given tag. Needs root, debootstrap and a
# running Docker engine. Usage: build_base_image.sh TAG SUITE MIRROR PACKAGES
# (PACKAGES comma separated). Writes nothing outside a temporary folder.
set -euo pipefail
command -v debootstrap >/dev/null || { echo "debootstrap is not installed on the control node (apt-get install debootstrap; make setup does it)" >&2; exit 3; }
tag=$1 suite=$2 mirror=$3 packages=$4
work=$(mktemp -d /var/tmp/rasr-rootfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase --include="$packages" "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}
rootfs=$work/rootfs
# A container has no console or kernel of its own: keep systemd from waiting on them.
for unit in getty.target console-getty.service systemd-udevd.service \
            systemd-udev-trigger.service systemd-modules-load.service \
            systemd-remount-fs.service sys-kernel-config.mount \
            sys-kernel-debug.mount sys-kernel-tracing.mount; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
echo "local-host" >"$rootfs/etc/hostname"
rm -f "$rootfs/etc/machine-id" && touch "$rootfs/etc/machine-id"
printf 'deb %s %s main\ndeb %s %s-updates main\n' "$mirror" "$suite" "$mirror" "$suite" >"$rootfs/etc/apt/sources.list"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
# No package lists in the image: date their folder back so that any
# `apt: update_cache: true, cache_valid_time: N` fetches them on first use.
touch -d @0 "$rootfs/var/lib/apt/lists"
tar -C "$rootfs" -c . | docker import \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change 'ENV container=docker' \
  - "$tag" >/dev/null
echo "$tag"
