#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Rig layer, kernel-level smoke tests (no cartoflash code involved): boot, vcan with can-utils,
# slcan on a pty, configfs and FunctionFS gadgets on dummy_hcd. One fresh VM per guest script.
cd "$(dirname "$0")/../.." || exit 1
. tools/rig/rig.sh
rig_flavour "${CARTOFLASH_RIG_KERNEL:-backports}" || exit 0
echo "# kernel $RIG_KVER ($RIG_FLAVOUR)"
rig_run_all tools/rig/guest/smoke-can.sh tools/rig/guest/smoke-slcan.sh tools/rig/guest/smoke-usb.sh \
	tools/rig/guest/smoke-dfu.sh

# The harness itself: a guest kernel crash must end the VM quickly and count as a failure.
t0=$(date +%s)
out=$(rig_run tools/rig/guest/selftest-crash.sh)
t1=$(date +%s)
if grep -q '^not ok - selftest-crash: VM ended without finishing' <<<"$out" &&
	! grep -q 'after the crash' <<<"$out" && [ $((t1 - t0)) -lt $((RIG_TIMEOUT / 2)) ]; then
	echo "ok - rig harness: a guest kernel crash ends the VM at once ($((t1 - t0)) s) and is a failure"
else
	echo "not ok - rig harness: a guest kernel crash ends the VM at once and is a failure"
	sed 's/^/# /' <<<"$out"
fi
