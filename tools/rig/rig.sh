#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The kernel rig, host side: fetches a Debian kernel, builds a busybox initramfs and boots it under
# QEMU TCG (rig.md §2, §3). Sourced by tests/rig/*.sh; also a command: tools/rig/rig.sh --help.
#
# Work dir (downloads, unpacked kernels, initramfs images; kept between runs so reruns are fast):
#   $CARTOFLASH_RIG_DIR, default ${XDG_CACHE_HOME:-$HOME/.cache}/cartoflash-rig
# Kernels: "stable" = the machine's own suite, resolved through linux-image-amd64;
#          "backports" = <codename>-backports from the mirror the machine's apt sources already use.
#          The test scripts use backports (FunctionFS carries the DFU functional descriptor there,
#          rig.md §5.5) and fall back to stable; CARTOFLASH_RIG_KERNEL=stable|backports picks one.

RIG_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RIG_REPO=$(cd "$RIG_SRC/../.." && pwd)
RIG_DIR=${CARTOFLASH_RIG_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cartoflash-rig}
RIG_TIMEOUT=${RIG_TIMEOUT:-240}	# seconds one VM may run before it is killed
# rig.md §3.1 step 3: everything the scenarios load, the rest comes from the dependency closure.
RIG_MODULES="vcan can can_raw can_dev slcan can_bcm can_gw dummy_hcd libcomposite usb_f_fs
	usb_f_acm u_serial cdc_acm configfs gadgetfs overlay 9p 9pnet_virtio virtio_pci"

rig_log() { echo "rig: $*" >&2; }

# Prints the machine's Debian mirror URI and codename ("URI CODENAME"), read from its apt sources
# (one-line .list files and deb822 .sources files). The mirror is whichever source serves the
# release suite itself; security and third-party sources serve other suites.
rig_mirror() {
	local codename f uri
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || return 1
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		uri=$(sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
			awk -v s="$codename" '$1 == "deb" && $3 == s { print $2; exit }')
		[ -n "$uri" ] && { echo "$uri $codename"; return 0; }
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# deb822: paragraphs separated by blank lines; take URIs of one listing Suites: <codename>.
		uri=$(awk -v s="$codename" '
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { if (types && suite && uri != "") { print uri; exit }
				     types = 0; suite = 0; uri = ""; next }
			tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") types = 1 }
			tolower($1) == "uris:" { uri = $2 }
			tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == s) suite = 1 }
			tolower($1) == "enabled:" && tolower($2) == "no" { types = 0 }
			END { if (types && suite && uri != "") print uri }' "$f" | head -1)
		[ -n "$uri" ] && { echo "$uri $codename"; return 0; }
	done
	return 1
}

# Private apt configuration for the backports suite (rig.md §2): the machine's apt state is
# never touched. Sets RIG_AO.
rig_apt_backports() {
	local m uri codename a=$RIG_DIR/apt
	m=$(rig_mirror) || { rig_log "no Debian mirror found in the apt sources"; return 1; }
	read -r uri codename <<<"$m"
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $codename-backports main" \
		>"$a/sources.list"
	RIG_AO=(-o "Dir::Etc::sourcelist=$a/sources.list" -o Dir::Etc::sourceparts=/dev/null
		-o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache" -o Dir::State::status=/dev/null
		-o APT::Sandbox::User=root -o Acquire::Retries=2 -o Acquire::http::Timeout=30)
	# A day-old index is good enough; refreshing costs a download of the whole Packages file.
	if [ -z "$(find "$a/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null)" ]; then
		# Offline with an older index: the cached kernel is still good.
		timeout 300 apt-get "${RIG_AO[@]}" -qq update >&2 ||
			[ -n "$(find "$a/lists" -maxdepth 1 -name '*Packages*' 2>/dev/null)" ] || return 1
	fi
}

# rig.md §5.7, pitfalls 14/15: Debian's libusb uses udev for hotplug, and the guest has no udevd,
# so a libusb client there never sees a device arrive or leave after libusb_init. A libusb built
# with --disable-udev uses kernel netlink uevents instead. Built once from the Debian source
# package (private apt configuration, deb-src of the machine's mirror) into the work dir; the
# guest puts it first on LD_LIBRARY_PATH. Prints the lib directory; fails quietly without it.
rig_libusb() {
	local a=$RIG_DIR/apt-src out=$RIG_DIR/libusb-netlink m uri codename src
	[ -f "$out/lib/libusb-1.0.so.0" ] && { echo "$out/lib"; return 0; }
	m=$(rig_mirror) || return 1
	read -r uri codename <<<"$m"
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/src"
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $codename main" \
		>"$a/sources.list"
	local -a ao=(-o "Dir::Etc::sourcelist=$a/sources.list" -o Dir::Etc::sourceparts=/dev/null
		-o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache" -o Dir::State::status=/dev/null
		-o APT::Sandbox::User=root -o Acquire::Retries=2)
	rig_log "building a netlink libusb from the Debian source package"
	(
		cd "$a/src" || exit 1
		timeout 300 apt-get "${ao[@]}" -qq update &&
			timeout 300 apt-get "${ao[@]}" -qq source --download-only libusb-1.0 || exit 1
		src=$(ls -1 libusb-1.0_*.orig.tar.* | sort -V | tail -1)
		rm -rf build && mkdir build && tar -xf "$src" -C build --strip-components=1 &&
			cd build && ./configure -q --disable-udev --enable-shared --disable-static \
				--prefix="$out" >/dev/null && make -s -j2 >/dev/null 2>&1 && make -s install >/dev/null
	) >&2 || { rig_log "netlink libusb unavailable; the guest uses Debian's"; return 1; }
	rm -rf "$a"	# the source index and tarball are not needed again
	echo "$out/lib"
}

# Downloads the kernel .deb of flavour $1 (stable|backports) into the work dir unless it is there;
# prints its path.
rig_kernel_deb() {
	local flavour=$1 dir=$RIG_DIR/kernels/$1 pkg deb
	local -a ao=()
	mkdir -p "$dir"
	if [ "$flavour" = backports ]; then
		rig_apt_backports || return 1
		ao=("${RIG_AO[@]}")
	fi
	# rig.md §2: the ABI number in the package name changes; resolve it through the metapackage.
	pkg=$(apt-cache "${ao[@]}" depends linux-image-amd64 2>/dev/null |
		grep -o 'linux-image-[0-9][^ ]*-amd64' | head -1)
	if [ -z "$pkg" ]; then
		# The machine's index may be missing (a fresh container): refresh once.
		[ "$flavour" = stable ] && timeout 300 apt-get -qq update >&2
		pkg=$(apt-cache "${ao[@]}" depends linux-image-amd64 2>/dev/null |
			grep -o 'linux-image-[0-9][^ ]*-amd64' | head -1)
	fi
	if [ -z "$pkg" ]; then
		# Offline: use the newest .deb downloaded before.
		deb=$(ls -1 "$dir"/linux-image-*.deb 2>/dev/null | sort -V | tail -1)
		[ -n "$deb" ] && { echo "$deb"; return 0; }
		rig_log "cannot resolve linux-image-amd64 ($flavour)"
		return 1
	fi
	deb=$(ls -1 "$dir"/"${pkg}"_*.deb 2>/dev/null | sort -V | tail -1)
	if [ -z "$deb" ]; then
		rig_log "downloading $pkg ($flavour)"
		(cd "$dir" && timeout 600 apt-get "${ao[@]}" -o APT::Sandbox::User=root -qq download "$pkg" >&2) || return 1
		deb=$(ls -1 "$dir"/"${pkg}"_*.deb 2>/dev/null | sort -V | tail -1)
		# A new ABI replaces the old kernel: keep one .deb (about 100 MB) per flavour.
		[ -n "$deb" ] && find "$dir" -maxdepth 1 -name 'linux-image-*.deb' ! -path "$deb" -delete
	fi
	[ -n "$deb" ] && echo "$deb"
}

# Unpacks the kernel and builds the initramfs for flavour $1 (rig.md §3.1). Sets RIG_KERNEL and
# RIG_INITRD. The image is rebuilt when the .deb or tools/rig/init is newer.
rig_prepare() {
	local flavour=$1
	local -i rc
	mkdir -p "$RIG_DIR"
	# Several build dirs may run the rig at once; they share the work dir.
	exec {RIG_LOCK}>"$RIG_DIR/lock"
	flock -w 900 "$RIG_LOCK" || rig_log "work dir lock timed out; going on"
	rig_prepare_locked "$flavour"
	rc=$?
	flock -u "$RIG_LOCK"
	exec {RIG_LOCK}>&-
	return $rc
}

rig_prepare_locked() {
	local flavour=$1 deb kver kroot root out m f
	deb=$(rig_kernel_deb "$flavour") || return 1
	kver=$(dpkg-deb -f "$deb" Package) || return 1
	kver=${kver#linux-image-}
	kroot=$RIG_DIR/kernels/$flavour/root-$kver
	out=$RIG_DIR/kernels/$flavour/initrd-$kver.cpio.gz
	RIG_KERNEL=$kroot/boot/vmlinuz-$kver
	RIG_INITRD=$out
	RIG_KVER=$kver
	RIG_LIBUSB=$(rig_libusb) || RIG_LIBUSB=
	if [ -f "$out" ] && [ "$out" -nt "$deb" ] && [ "$out" -nt "$RIG_SRC/init" ]; then
		return 0
	fi
	rig_log "building initramfs for $kver"
	rm -rf "$kroot" "$kroot.tmp"
	mkdir -p "$kroot.tmp"
	dpkg-deb -x "$deb" "$kroot.tmp" || return 1
	# rig.md pitfall 4: backports ships .ko.xz; busybox modprobe wants plain .ko.
	find "$kroot.tmp/lib/modules" -name '*.ko.xz' -exec xz -d {} + || return 1
	depmod -b "$kroot.tmp" "$kver" || return 1
	mv "$kroot.tmp" "$kroot"

	root=$(mktemp -d -p "$RIG_DIR")
	mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,mnt,host,hostroot,etc,lib/modules/"$kver"}
	for m in $RIG_MODULES; do
		modprobe -d "$kroot" -S "$kver" --show-depends "$m" 2>/dev/null |
			awk '$1 == "insmod" { print $2 }'
	done | sort -u | while read -r f; do
		mkdir -p "$root/$(dirname "${f#"$kroot"}")"
		cp "$f" "$root/${f#"$kroot"}"
	done
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		cp "$kroot/lib/modules/$kver/$f" "$root/lib/modules/$kver/" 2>/dev/null
	done
	depmod -b "$root" "$kver" || return 1
	cp /bin/busybox "$root/bin/busybox"
	for f in $("$root/bin/busybox" --list); do
		[ "$f" = busybox ] || ln -sf busybox "$root/bin/$f"
	done
	ln -sf ../bin/busybox "$root/sbin/modprobe"	# rig.md pitfall 3
	cp "$RIG_SRC/init" "$root/init"
	chmod 755 "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp" && mv "$out.tmp" "$out"
	rm -rf "$root" "$kroot/lib" "$kroot/usr"	# only boot/vmlinuz is needed from here on
	[ -f "$out" ]
}

# Boots one fresh VM running guest script $1 (a path inside the repository) with flavour
# $RIG_FLAVOUR; the serial log goes to $2. Extra kernel parameters in $RIG_APPEND.
# no_timer_check: on a loaded host TCG misses the kernel's IO-APIC timer test, which panics the
# boot ("IO-APIC + timer doesn't work"); the test is for real chipsets.
# Returns qemu's status (124 on timeout).
rig_boot() {
	local script=$1 log=$2 accel=tcg
	# rig.md §3.2; KVM only when asked for (CI hosts have none; TCG is the measured path).
	[ "${RIG_KVM:-0}" = 1 ] && [ -w /dev/kvm ] && accel=kvm
	timeout --kill-after=5 "$RIG_TIMEOUT" qemu-system-x86_64 -machine q35,accel=$accel -cpu max \
		-m 512 -smp 1 -nographic -no-reboot -nodefaults -serial stdio \
		-kernel "$RIG_KERNEL" -initrd "$RIG_INITRD" \
		-virtfs local,path="$RIG_REPO",mount_tag=host,security_model=none,id=host \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap,id=hostroot \
		-append "console=ttyS0 quiet panic=-1 oops=panic no_timer_check rig.run=$script rig.repo=$RIG_REPO rig.build=${BUILD:-build} rig.libusb=${RIG_LIBUSB:-} rig.kver=$RIG_KVER ${RIG_APPEND:-}" \
		</dev/null >"$log" 2>&1
}

# Runs guest script $1 in a fresh VM and turns its RIG-PASS/RIG-FAIL/RIG-SKIP lines into TAP on
# stdout. A VM that ends without its RIG-EXIT line (timeout, oops, crash) is one failure.
rig_run() {
	local script=${1#"$RIG_REPO"/} name log rc t0 t1
	name=$(basename "$script" .sh)
	mkdir -p "$RIG_OUT"
	log=$RIG_OUT/$name.console.log
	t0=$(date +%s.%N)
	rig_boot "$script" "$log"
	rc=$?
	t1=$(date +%s.%N)
	tr -d '\r' <"$log" | awk -v vm="$name" '
		/^RIG-PASS / { sub(/^RIG-PASS /, ""); print "ok - " vm ": " $0 }
		/^RIG-FAIL / { sub(/^RIG-FAIL /, ""); print "not ok - " vm ": " $0 }
		/^RIG-SKIP / { sub(/^RIG-SKIP /, ""); n = index($0, ": ")
			print "ok - " vm ": " substr($0, 1, n - 1) " # SKIP " substr($0, n + 2) }
		/^# / { print }		# diagnostics the guest prints after a failure'
	if ! tr -d '\r' <"$log" | grep -q '^RIG-EXIT '; then
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			echo "not ok - $name: VM timed out after ${RIG_TIMEOUT}s (console: $log)"
		else
			echo "not ok - $name: VM ended without finishing, qemu status $rc (console: $log)"
		fi
		grep -aE 'Kernel panic|Oops|BUG:|RIG-' "$log" | tail -5 | sed 's/^/# /'
	fi
	printf '# %s: %.1fs wall\n' "$name" "$(echo "$t1 - $t0" | bc 2>/dev/null || echo 0)"
}

# Prints "ok - rig # SKIP reason" and returns 1 when the rig cannot run here.
rig_available() {
	local flavour=$1 t
	for t in qemu-system-x86_64 cpio depmod dpkg-deb apt-get; do
		command -v "$t" >/dev/null || { echo "ok - rig # SKIP $t not installed"; return 1; }
	done
	[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 ||
		{ echo "ok - rig # SKIP busybox-static not installed"; return 1; }
	if ! rig_prepare "$flavour" >&2; then
		echo "ok - rig # SKIP $flavour kernel unavailable (no download, see stderr)"
		return 1
	fi
}

RIG_OUT=${RIG_OUT:-$RIG_REPO/${BUILD:-build}/rig}

# rig_run_all SCRIPT...: one fresh VM per guest script, two at a time (2 cores, one vCPU each);
# TAP lines come out in script order.
rig_run_all() {
	local i=0 s
	local -a pids=() outs=()
	mkdir -p "$RIG_OUT"
	for s in "$@"; do
		outs[i]=$RIG_OUT/$(basename "$s" .sh).tap
		rig_run "$s" >"${outs[i]}" &
		pids[i]=$!
		i=$((i + 1))
		if [ "${#pids[@]}" -ge "${RIG_JOBS:-2}" ]; then
			wait "${pids[0]}"
			pids=("${pids[@]:1}")
		fi
	done
	wait
	for s in "${outs[@]}"; do cat "$s"; done
}

# rig_flavour PREFERRED: prepares PREFERRED, else the other kernel; prints "ok - rig # SKIP"
# and fails when neither can be had. Sets RIG_FLAVOUR.
rig_flavour() {
	local want=$1 other=stable
	[ "$want" = stable ] && other=backports
	for RIG_FLAVOUR in "$want" "$other"; do
		rig_available "$RIG_FLAVOUR" >/dev/null && return 0
	done
	rig_available "$want"
}

rig_usage() {
	cat <<EOF
usage: tools/rig/rig.sh COMMAND [ARGS]
  prepare [stable|backports]    download the kernel and build the initramfs
  run FLAVOUR GUEST-SCRIPT...   boot one VM per script, print TAP lines
  shell [stable|backports]      boot a VM with an interactive shell (exit with poweroff -f)
  mirror                        print the Debian mirror and codename taken from the apt sources
Examples:
  tools/rig/rig.sh prepare backports
  BUILD=build tools/rig/rig.sh run backports tools/rig/guest/smoke-can.sh
EOF
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	cmd=${1:-}
	shift || true
	case $cmd in
	prepare) rig_prepare "${1:-backports}" && echo "$RIG_KERNEL $RIG_INITRD" ;;
	mirror) rig_mirror ;;
	run)
		flavour=$1; shift
		rig_prepare "$flavour" || exit 1
		rig_run_all "$@" ;;
	shell)
		rig_prepare "${1:-backports}" || exit 1
		exec qemu-system-x86_64 -machine q35,accel=tcg -cpu max -m 512 -smp 1 -nographic \
			-no-reboot -nodefaults -serial mon:stdio -kernel "$RIG_KERNEL" -initrd "$RIG_INITRD" \
			-virtfs local,path="$RIG_REPO",mount_tag=host,security_model=none,id=host \
			-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap,id=hostroot \
			-append "console=ttyS0 quiet panic=-1 oops=panic rig.repo=$RIG_REPO rig.build=${BUILD:-build} rig.libusb=${RIG_LIBUSB:-}" ;;
	-h | --help) rig_usage ;;
	*) rig_usage >&2; exit 64 ;;
	esac
fi
