/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Stop and start the Klipper service with systemctl, waiting on the event loop. */
#ifndef CARTOFLASH_SRC_KLIPPY_KLIPPY_SERVICE_H
#define CARTOFLASH_SRC_KLIPPY_KLIPPY_SERVICE_H

#include <stdint.h>

struct loop;
struct cf_failure;

#define KLIPPY_SERVICE_TIMEOUT_US 60000000u /* systemd's own stop timeout is 90 s */

/*
 * Run `systemctl ACTION UNIT` (found on PATH) and wait until it exits or timeout_us passed
 * (then it is killed). systemctl stop/start return once the unit is down/up. Returns 0;
 * CF_ERR_ACCESS when systemd refused (not root, no polkit rule), CF_ERR_NO_DEVICE when the
 * unit does not exist, CF_ERR_TIMEOUT, CF_ERR_IO (systemctl missing, another failure); why
 * carries systemctl's own first error line. Blocks only while the loop runs.
 */
int klippy_service_run(struct loop *loop, const char *action, const char *unit,
		       uint64_t timeout_us, struct cf_failure *why);

#endif
