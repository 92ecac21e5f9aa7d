# SPDX-License-Identifier: GPL-3.0-or-later
# The rig guest's shared helpers (busybox sh), sourced by every tools/rig/guest/*.sh scenario:
# result lines for the host, bounded waits, the host-root chroot (rig.md §3.3) and USB gadgets.
# Result lines: "RIG-PASS name", "RIG-FAIL name: detail", "RIG-SKIP name: reason".

# Paths as the chroot sees them: the repository is bind-mounted at its host path.
REPO=${RIG_REPO:-/host}
BUILDDIR=$REPO/${RIG_BUILD:-build}
ART=$BUILDDIR/rig	# test artifacts (candump logs ...), kept on the host
HR=/hr

rig_pass() { echo "RIG-PASS $1"; }
rig_skip() { echo "RIG-SKIP $1: $2"; }
rig_fail() {
	echo "RIG-FAIL $1: $2"
	[ -n "${3:-}" ] && [ -f "$3" ] && tail -n 15 "$3" | sed 's/^/# /'
	return 0
}

# rig_expect NAME DETAIL CMD...: pass when CMD succeeds; its output is shown on failure.
rig_expect() {
	_n=$1 _d=$2
	shift 2
	if "$@" >/tmp/expect.out 2>&1; then
		rig_pass "$_n"
	else
		rig_fail "$_n" "$_d (status $?)" /tmp/expect.out
	fi
}

# rig_wait TENTHS CMD...: polls CMD every 0.1 s up to TENTHS tries (every wait is bounded).
rig_wait() {
	_t=$1
	shift
	while [ "$_t" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		_t=$((_t - 1))
	done
	return 1
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }	# rig.md pitfall 18: the guest's monotonic clock

# rig.md §3.3: host / read-only over 9p, a tmpfs overlay on top, the repository (9p tag "host",
# writable) at its own path, so host paths and dynamically linked binaries work unchanged.
rig_hostroot() {
	modprobe overlay
	mkdir -p /lower /ov $HR
	mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose hostroot /lower ||
		return 1
	mount -t tmpfs tmpfs /ov
	mkdir -p /ov/u /ov/w
	if ! mount -t overlay overlay -o lowerdir=/lower,upperdir=/ov/u,workdir=/ov/w $HR; then
		mount --bind /lower $HR && mount -o remount,ro,bind $HR || return 1
	fi
	for d in proc sys dev dev/pts; do
		mount --bind /$d $HR/$d
	done
	mount -t tmpfs tmpfs $HR/tmp
	mount -t tmpfs tmpfs $HR/run
	mkdir -p $HR$REPO 2>/dev/null
	mount --bind /host $HR$REPO || return 1
	mkdir -p $HR$ART
	grep -q " /sys/kernel/config " /proc/mounts && mount --bind /sys/kernel/config $HR/sys/kernel/config
	return 0
}

# rig_in CMD: runs a shell command line in the host-root chroot, in the repository. libusb
# clients get the rig's netlink libusb when the host built one (rig.sh rig_libusb, pitfall 15).
rig_in() {
	chroot $HR /bin/sh -c "cd '$REPO' && export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/tmp LC_ALL=C CARTOFLASH='$BUILDDIR/cartoflash' BUILD='${RIG_BUILD:-build}' \
		${RIG_LIBUSB:+LD_LIBRARY_PATH='$RIG_LIBUSB'} && $1"
}

# rig_have_bin NAME: a project binary built on the host ($BUILD/NAME).
rig_have_bin() { [ -x "$HR$BUILDDIR/$1" ]; }

# rig_flash_holds FLASH IMAGE: a twin's persisted flash (chroot path) holds IMAGE at the
# application's start (0x08002000, offset 8 KiB), byte for byte: proof by the probe's bytes,
# never by cartoflash's own exit code or verify.
rig_flash_holds() {
	rig_in "cmp -n \$(wc -c <$2) -i 8192:0 $1 $2"
}

# --- USB (rig.md §5.1) ---------------------------------------------------------------------

GADGETS=/sys/kernel/config/usb_gadget

rig_usb_setup() {
	modprobe dummy_hcd || return 1
	modprobe libcomposite || return 1
	grep -q " /sys/kernel/config " /proc/mounts || mount -t configfs none /sys/kernel/config
	mkdir -p /dev/bus/usb
	rig_wait 30 test -e /sys/class/udc/dummy_udc.0
}

# rig_gadget NAME VID PID SERIAL PRODUCT: creates a configfs gadget with one configuration.
rig_gadget() {
	_g=$GADGETS/$1
	mkdir -p $_g/strings/0x409 $_g/configs/c.1/strings/0x409 || return 1
	echo "$2" >$_g/idVendor
	echo "$3" >$_g/idProduct
	echo 0x0200 >$_g/bcdUSB
	echo 0x0100 >$_g/bcdDevice
	echo "$4" >$_g/strings/0x409/serialnumber
	echo "$5" >$_g/strings/0x409/product
	echo "cartoflash rig" >$_g/strings/0x409/manufacturer
	echo "c1" >$_g/configs/c.1/strings/0x409/configuration
	echo 100 >$_g/configs/c.1/MaxPower
}

rig_gadget_bind() { echo dummy_udc.0 >$GADGETS/$1/UDC; }
rig_gadget_unbind() { echo "" >$GADGETS/$1/UDC 2>/dev/null; }
rig_gadget_bound() { [ -n "$(cat $GADGETS/$1/UDC 2>/dev/null)" ]; }

# rig_usb_present VID PID: the host side of dummy_hcd shows a device with these ids.
rig_usb_present() {
	for _d in /sys/bus/usb/devices/*; do
		[ -f "$_d/idVendor" ] || continue
		[ "$(cat "$_d/idVendor"):$(cat "$_d/idProduct")" = "$1:$2" ] && return 0
	done
	return 1
}

rig_usb_absent() { ! rig_usb_present "$1" "$2"; }

# since T0: seconds elapsed on the guest's monotonic clock since uptime T0.
since() { awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.2f", b - a }'; }

# rig_can_listening IFACE: some CAN_RAW socket receives on IFACE (a started candump), so frames
# sent now are not lost to a reader that is still starting.
rig_can_listening() { grep -q "^ *$1 " /proc/net/can/rcvlist_all; }
