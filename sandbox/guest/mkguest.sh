#!/bin/sh
# Builds the microVM guest of sandtrail run --mode microvm (sandbox/microvm.c):
#   mkguest.sh kernel DEB OUT      the uncompressed PVH vmlinux of Debian's kernel
#                                  package (QEMU's microvm boots it directly)
#   mkguest.sh initramfs DEB OUT BUSYBOX AGENT INIT
#                                  a newc cpio: busybox-static, /init, the guest
#                                  agent and the modules the guest needs
# The kernel is Debian's generic one (linux-image-amd64): it has 9p as modules,
# the cloud kernel has none (DESIGN.md, microvm).  The package is unpacked
# (dpkg-deb -x), never installed.
set -eu

# virtio over MMIO (microvm has no PCI), the event and control ports, the
# workspace over 9p; each after what it depends on (read from the modules'
# own .modinfo: the package has no modules.dep, depmod runs on install)
MODULES="virtio_mmio virtio_console 9pnet_virtio 9p"

die() { echo "mkguest: $*" >&2; exit 1; }

unpack() {
	rm -rf "$2" && mkdir -p "$2" && dpkg-deb -x "$1" "$2" || die "dpkg-deb -x $1: failed"
}

cmd_kernel() {
	deb=$1 out=$2 tmp=$2.d
	unpack "$deb" "$tmp"
	z=$(ls "$tmp"/boot/vmlinuz-*) || die "$deb: no /boot/vmlinuz-*"
	# the bzImage's payload is xz (CONFIG_KERNEL_XZ); its magic's first offset
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$z" | head -n 1 | cut -d: -f1)
	[ -n "$off" ] || die "$z: no xz payload (CONFIG_KERNEL_XZ?)"
	tail -c +"$((off + 1))" "$z" | xz -dc --single-stream >"$out.tmp" || die "$z: xz payload at byte $off does not decode"
	[ "$(head -c 4 "$out.tmp" | od -An -c | tr -d ' ')" = "177ELF" ] || die "$z: payload at byte $off is not an ELF vmlinux"
	rm -rf "$tmp"
	mv "$out.tmp" "$out"
}

# the modules $1 needs, then $1, each once
deps_of() {
	local f d
	f=$(find "$mdir" -name "$1.ko" | head -n 1)
	[ -n "$f" ] || die "module $1 not in the package"
	for d in $(strings "$f" | sed -n 's/^depends=//p' | tr , ' '); do deps_of "$d"; done
	echo "$f"
}

cmd_initramfs() {
	deb=$1 out=$2 busybox=$3 agent=$4 init=$5 tmp=$2.d
	unpack "$deb" "$tmp/pkg"
	mdir=$(ls -d "$tmp"/pkg/lib/modules/*) || die "$deb: no /lib/modules"
	root=$tmp/root
	mkdir -p "$root/bin" "$root/sbin" "$root/lib/modules" "$root/dev" "$root/proc" "$root/sys" \
		"$root/tmp" "$root/workspace" "$root/etc"
	install -m 0755 "$busybox" "$root/bin/busybox"
	install -m 0755 "$agent" "$root/sbin/sandtrail-agent"
	install -m 0755 "$init" "$root/init"
	for m in $MODULES; do deps_of "$m"; done | awk '!seen[$0]++' >"$tmp/order"
	while read -r f; do
		install -m 0644 "$f" "$root/lib/modules/"
		basename "$f" >>"$root/lib/modules/order"
	done <"$tmp/order"
	printf 'root:x:0:0:root:/:/bin/sh\nsandbox:x:1000:1000:sandbox:/workspace:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\nsandbox:x:1000:\n' >"$root/etc/group"
	# reproducible: fixed times and owners, sorted names
	(cd "$root" && find . -mindepth 1 -exec touch -h -d @0 {} + && \
	 find . -mindepth 1 | LC_ALL=C sort | "$busybox" cpio -o -H newc 2>/dev/null)>"$out.tmp" || die "cpio of $root failed"
	rm -rf "$tmp"
	mv "$out.tmp" "$out"
}

case "${1:-}" in
kernel) shift; [ $# -eq 2 ] || die "usage: mkguest.sh kernel DEB OUT"; cmd_kernel "$@" ;;
initramfs) shift; [ $# -eq 5 ] || die "usage: mkguest.sh initramfs DEB OUT BUSYBOX AGENT INIT"; cmd_initramfs "$@" ;;
*) die "usage: mkguest.sh kernel|initramfs ..." ;;
esac
