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
