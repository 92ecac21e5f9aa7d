# SPDX-License-Identifier: GPL-3.0-or-later
# Rig harness self-test: the guest kernel crashes mid-script. With panic=-1, oops=panic and
# -no-reboot the VM must end at once, and the host must count the unfinished script as a failure
# (tests/rig/smoke.sh turns that expectation into its own ok line).
. /host/tools/rig/guest/lib.sh
rig_pass "before the crash"
echo 1 >/proc/sys/kernel/sysrq
echo c >/proc/sysrq-trigger
rig_pass "after the crash (must never print)"
