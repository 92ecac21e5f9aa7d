# SPDX-License-Identifier: GPL-3.0-or-later
# Sourced by the e2e libs after they define not_ok.
# fail_start WHAT [LOG...]: a helper tool (simbus, twin, klippyd, mkimage) that did not start is a
# failure of the script, never a skip: one "not ok", its output as comments, exit 1.
fail_start() {
	local what=$1 f
	shift
	not_ok "${0##*/}: $what did not start"
	for f in "$@"; do [ -f "$f" ] && sed 's/^/#   /' "$f" | tail -15; done
	exit 1
}
