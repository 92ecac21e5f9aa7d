// SPDX-License-Identifier: GPL-3.0-or-later
// The target parser shared by flash, verify, info, fleet ...: targets and updater options.
#include "cmd_target.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure.h"
#include "katapult/iface_switch.h"
#include "protocol/canbus.h"
#include "protocol/err.h"

/* A new zeroed target at the end, or NULL without memory. */
static struct cmd_target *append(struct cmd_targets *t)
{
	struct cmd_target *tg;

	if (t->count == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct cmd_target *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	tg = &t->v[t->count++];
	memset(tg, 0, sizeof(*tg));
	return tg;
}

int cmd_targets_add(struct cmd_targets *t, const char *iface, const char *uuid,
		    const char *label, const char *image)
{
	struct cmd_target *tg;
	uint8_t raw[CANBUS_UUID_LEN];

	char canon[2 * CANBUS_UUID_LEN + 1];

	if (canbus_uuid_parse(uuid, raw) < 0 || !iface[0] || strlen(iface) >= sizeof(tg->iface))
		return CF_ERR_USAGE;
	/* Two sessions on one node would fight over its node id: name each probe once. */
	canbus_uuid_format(raw, canon);
	for (size_t i = 0; i < t->count; i++)
		if (!strcmp(t->v[i].iface, iface) && !strcmp(t->v[i].can_uuid, canon))
			return CF_ERR_BUSY;
	tg = append(t);
	if (!tg)
		return CF_ERR_NOMEM;
	tg->link = IDENTITY_LINK_CAN;
	snprintf(tg->iface, sizeof(tg->iface), "%.63s", iface);
	/* style.md §2.10: UUIDs are printed in the canonical lower-case form. */
	canbus_uuid_format(raw, tg->can_uuid);
	snprintf(tg->label, sizeof(tg->label), "%.63s", label ? label : "");
	snprintf(tg->image, sizeof(tg->image), "%.255s", image ? image : "");
	return CF_OK;
}

/* --serial PATH|auto: a by-id link is longer than the identity's tty field, so the node it
 * points to is kept (sysfs knows the node, not the link). */
static int add_serial(struct cmd_targets *t, const char *verb, const char *arg)
{
	char real[PATH_MAX];
	const char *path = strcmp(arg, "auto") && realpath(arg, real) ? real : arg;
	struct cmd_target *tg;

	/* The tty transport reads "PATH@BAUD": a rate hidden in the path would be taken silently. */
	if (strchr(arg, '@'))
		return cli_usage_error(verb, "--serial takes a tty path, not '%s'; give the rate as "
					     "--baud N", arg);
	if (!path[0] || strlen(path) >= sizeof(tg->tty) - 8)
		return cli_usage_error(verb, "'%s' is not a tty path", arg);
	tg = append(t);
	if (!tg)
		return cli_usage_error(verb, "out of memory");
	tg->link = IDENTITY_LINK_TTY;
	snprintf(tg->tty, sizeof(tg->tty), "%.63s", path);
	return 1;
}

int cmd_targets_option(struct cmd_targets *t, const char *verb, int c, const char *arg)
{
	char *end;

	switch (c) {
	case CMD_OPT_SERIAL:
		return add_serial(t, verb, arg);
	case CMD_OPT_BAUD:
		t->baud = (uint32_t)strtoul(arg, &end, 10);
		if (*end || !t->baud || t->baud > 4000000)
			return cli_usage_error(verb, "--baud needs a rate in bit/s, not '%s'", arg);
		return 1;
	case CMD_OPT_REQUEST_BOOTLOADER:
		t->request_bootloader = true;
		return 1;
	case 'i':
	case CMD_OPT_CAN:
		if (!arg[0] || strlen(arg) >= sizeof(t->iface))
			return cli_usage_error(verb, "'%s' is not a CAN interface", arg);
		snprintf(t->iface, sizeof(t->iface), "%.63s", arg);
		t->iface_unused = true;
		return 1;
	case CMD_OPT_UUID:
		if (!t->iface[0])
			return cli_usage_error(verb, "--uuid %s needs a --can IFACE before it", arg);
		switch (cmd_targets_add(t, t->iface, arg, NULL, NULL)) {
		case CF_OK:
			t->iface_unused = false;
			return 1;
		case CF_ERR_NOMEM:
			return cli_usage_error(verb, "out of memory");
		case CF_ERR_BUSY:
			return cli_usage_error(verb, "probe %s on %s is named twice", arg, t->iface);
		default:
			return cli_usage_error(verb, "'%s' is not a CAN UUID (12 hex digits)", arg);
		}
	default: /* --klippy-socket, --stop-klipper, --klipper-service, --lock-wait */
		return liverun_option(&liverun_cli, verb, c, arg);
	}
}

int cmd_targets_require(const struct cmd_targets *t, const char *verb)
{
	bool all_serial = t->count > 0;

	for (size_t i = 0; i < t->count; i++)
		all_serial &= t->v[i].tty[0] != '\0';
	/* A --can after the last --uuid names no probe, unless every target is a --serial one:
	 * then it is the bus a probe switched to CAN is followed onto. */
	if (t->iface_unused && !all_serial)
		return cli_usage_error(verb, "--can %s names no probe: add --uuid UUID after it "
					     "(`cartoflash scan --can %s` lists them)",
				       t->iface, t->iface);
	if (t->count)
		return 0;
	return cli_usage_error(verb, "name a probe: --can IFACE --uuid UUID, or --serial PATH");
}

void cmd_targets_fini(struct cmd_targets *t)
{
	free(t->v);
	memset(t, 0, sizeof(*t));
}

int cmd_updater_option(struct updater_options *o, const char *verb, int c, const char *arg)
{
	switch (c) {
	case CMD_OPT_DRY_RUN:
		o->dry_run = true;
		return 1;
	case CMD_OPT_NO_REBOOT:
		o->no_reboot = true;
		return 1;
	case CMD_OPT_FORCE:
		/* Only R3 has a sane blanket override: the bus is about to change bitrate. */
		o->force |= UPDATER_FORCE_BITRATE;
		return 1;
	case CMD_OPT_ALLOW_BITRATE:
		o->force |= UPDATER_FORCE_BITRATE;
		return 1;
	case CMD_OPT_ALLOW_UNKNOWN:
		o->force |= UPDATER_FORCE_UNKNOWN;
		return 1;
	case CMD_OPT_ALLOW_VARIANT:
		o->force |= UPDATER_FORCE_VARIANT;
		return 1;
	case CMD_OPT_SWITCH_TO:
		/* images.md §7 R4: the one explicit request that lets a deployer change the
		 * probe's interface; an application of the other interface stays refused. */
		if (!iface_switch_from_name(arg, &o->switch_to))
			return cli_usage_error(verb, "--switch-to needs can or usb, not '%s'", arg);
		return 1;
	case CMD_OPT_TIMEOUT:
		if (cli_parse_duration_us(arg, &o->timeout_us) < 0 || !o->timeout_us)
			return cli_usage_error(verb, "--timeout needs a duration with a unit, above 0 "
						     "and at most a day (5s, 500ms), not '%s'",
					       arg);
		return 1;
	default:
		return liverun_option(&liverun_cli, verb, c, arg);
	}
}

int cmd_parse_targets_only(int argc, char **argv, const char *verb, void (*usage)(FILE *out),
			   bool allow_no_reboot, struct cmd_targets *t, struct updater_options *o)
{
	static const struct option longopts[] = {
		CMD_TARGET_OPTIONS,
		{ "no-reboot", no_argument, NULL, CMD_OPT_NO_REBOOT },
		{ "timeout", required_argument, NULL, CMD_OPT_TIMEOUT },
		CMD_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	while ((c = getopt_long(argc, argv, "hi:qv", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return -1;
		}
		if (cli_common_option(c))
			continue;
		if (c == CMD_OPT_NO_REBOOT && !allow_no_reboot)
			return cli_usage_error(verb, "--no-reboot does not apply here");
		rc = cmd_targets_option(t, verb, c, optarg);
		if (!rc)
			rc = cmd_updater_option(o, verb, c, optarg);
		if (rc == 1)
			continue;
		return rc ? rc : cli_bad_option(verb, argc, argv, "hi:qv");
	}
	if (optind != argc)
		return cli_usage_error(verb, "unexpected argument '%s'", argv[optind]);
	return cmd_targets_require(t, verb);
}
