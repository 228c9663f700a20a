# microVM session start, under TCG on these machines (their /dev/kvm is PVM;
# the row says which accelerator ran): from `sandtrail run --mode microvm --
# sh -c 'echo x'` (sandtraild running, the guest's capture programs loaded
# and verified) to CMD's first output byte on the host, against a bare QEMU
# boot of the same kernel and initramfs, same machine flags, to its first
# userspace output byte (busybox as init, no agent, no capture, no 9p).
# Rounds interleave the two; medians of each.  Both are dominated by TCG.

# first_byte CMD...: ms from the start of CMD to the first byte of its stdout
first_byte() {
	python3 - "$@" <<-'PY'
		import subprocess, sys, time
		t0 = time.monotonic()
		p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
		b = p.stdout.read(1)
		t1 = time.monotonic()
		p.stdout.read()
		p.wait()
		print("%.1f" % ((t1 - t0) * 1000) if b else "nan")
	PY
}

section_microvm() {
	local rounds r khz g accel st ratio bare=() run=()
	rounds=$(quick 5 1)
	g=$BIN/microvm
	[ -r "$g/vmlinux" ] && [ -r "$g/initramfs.cpio" ] && command -v qemu-system-x86_64 >/dev/null ||
		{ row microvm "microvm session start" "guest or QEMU missing" "info" skipped "" "make microvm (qemu-system-x86)"; return 0; }
	khz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)
	log "== microvm session start: $rounds rounds (TCG boots: seconds each)"
	collector_start || { row microvm "microvm session start" "failed" "info" error "" "sandtraild did not start"; return 1; }
	for ((r = 0; r < rounds; r++)); do
		bare+=("$(first_byte qemu-system-x86_64 -M microvm,acpi=on -accel tcg,tb-size=64 -m 512 -smp 1 -nodefaults \
			-no-user-config -display none -no-reboot -kernel "$g/vmlinux" -initrd "$g/initramfs.cpio" -serial stdio \
			-append "console=ttyS0 quiet loglevel=1 panic=-1 pci=off tsc_early_khz=$khz rdinit=/bin/busybox -- sh -c \"mount -t devtmpfs d /dev; echo x >/dev/ttyS0; poweroff -f\"")")
		run+=("$(SANDTRAIL_MICROVM_ACCEL=tcg first_byte "$SANDTRAIL" run --mode microvm -- sh -c 'echo x')")
	done
	SANDTRAIL_MICROVM_ACCEL=tcg SANDTRAIL_MICROVM_TIMES=1 "$SANDTRAIL" run --mode microvm -- true 2>"$B/microvm.times" >/dev/null
	collector_stop
	journal_drop
	bare=$(printf '%s\n' "${bare[@]}" | median)
	run=$(printf '%s\n' "${run[@]}" | median)
	accel=tcg
	ratio=$(calc "$run / $bare")
	st=info
	[ "$run" = nan ] || [ "$bare" = nan ] && st=error
	row microvm "microvm session start (TCG): run to CMD's first byte" \
		"$(printf '%.0f ms = %s bare boot' "$run" "$(ratio_fmt "$ratio")")" "info" "$st" \
		"sandtrail run --mode microvm -- sh -c 'echo x' (sandtraild running), first stdout byte" \
		"$accel: $(sed -n 's/^sandtrail: microvm: //p' "$B/microvm.times")" ""
	row microvm.bare "  bare QEMU boot of the guest to its first output" "$(printf '%.0f ms' "$bare")" "baseline" info "" \
		"qemu-system-x86_64 -M microvm -accel tcg, same vmlinux and initramfs, busybox as init" ""
}
