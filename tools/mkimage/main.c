// SPDX-License-Identifier: GPL-3.0-or-later
// mkimage: command-line front end of the synthetic image builders, for e2e tests and the demo.
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mkimage.h"
#include "protocol/err.h"

enum {
	OPT_AMBIGUOUS_BASE = 0x100,
	OPT_APP_NAME,
	OPT_BRIDGE,
	OPT_CANBOOT_CONSTANT,
	OPT_CLOCK,
	OPT_CODE_LEN,
	OPT_CORRUPT_DICT,
	OPT_DICT_WITHOUT_CONFIG,
	OPT_EMBED_OFFSET,
	OPT_GAP_NOT_FF,
	OPT_INITIAL_PINS,
	OPT_KATAPULT_BITRATE,
	OPT_KATAPULT_IFACE,
	OPT_KATAPULT_MCU,
	OPT_KATAPULT_VERSION,
	OPT_LINK_BASE,
	OPT_NO_ANCHORS,
	OPT_NO_APP_VECTORS,
	OPT_NO_BITRATE_PATTERN,
	OPT_NO_DICT,
	OPT_NO_SIGNATURE,
	OPT_PAD_TO,
	OPT_TWO_BITRATES,
};

/* Alphabetical. */
static const struct option long_opts[] = {
	{ "ambiguous-base", no_argument, NULL, OPT_AMBIGUOUS_BASE },
	{ "app-name", required_argument, NULL, OPT_APP_NAME },
	{ "bitrate", required_argument, NULL, 'b' },
	{ "bridge", no_argument, NULL, OPT_BRIDGE },
	{ "canboot-constant", no_argument, NULL, OPT_CANBOOT_CONSTANT },
	{ "clock", required_argument, NULL, OPT_CLOCK },
	{ "code-len", required_argument, NULL, OPT_CODE_LEN },
	{ "corrupt-dict", no_argument, NULL, OPT_CORRUPT_DICT },
	{ "dict-without-config", no_argument, NULL, OPT_DICT_WITHOUT_CONFIG },
	{ "embed-offset", required_argument, NULL, OPT_EMBED_OFFSET },
	{ "gap-not-ff", no_argument, NULL, OPT_GAP_NOT_FF },
	{ "help", no_argument, NULL, 'h' },
	{ "iface", required_argument, NULL, 'i' },
	{ "initial-pins", required_argument, NULL, OPT_INITIAL_PINS },
	{ "katapult-bitrate", required_argument, NULL, OPT_KATAPULT_BITRATE },
	{ "katapult-iface", required_argument, NULL, OPT_KATAPULT_IFACE },
	{ "katapult-mcu", required_argument, NULL, OPT_KATAPULT_MCU },
	{ "katapult-version", required_argument, NULL, OPT_KATAPULT_VERSION },
	{ "link-base", required_argument, NULL, OPT_LINK_BASE },
	{ "mcu", required_argument, NULL, 'm' },
	{ "no-anchors", no_argument, NULL, OPT_NO_ANCHORS },
	{ "no-app-vectors", no_argument, NULL, OPT_NO_APP_VECTORS },
	{ "no-bitrate-pattern", no_argument, NULL, OPT_NO_BITRATE_PATTERN },
	{ "no-dict", no_argument, NULL, OPT_NO_DICT },
	{ "no-signature", no_argument, NULL, OPT_NO_SIGNATURE },
	{ "output", required_argument, NULL, 'o' },
	{ "pad-to", required_argument, NULL, OPT_PAD_TO },
	{ "size", required_argument, NULL, 's' },
	{ "two-bitrates", no_argument, NULL, OPT_TWO_BITRATES },
	{ "version", required_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct opts {
	struct mkimage_full_opts full; /* .app and .katapult serve every kind */
	struct mkimage_deployer_opts dep;
	const char *output;
	bool katapult_iface_set, katapult_bitrate_set, katapult_mcu_set;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mkimage KIND [options] -o FILE\n"
		"KIND: app | katapult | full | deployer | dict (JSON dictionary to FILE)\n"
		"  -m, --mcu MCU            stm32f042x6 (default) or stm32g431xx\n"
		"  -i, --iface can|usb|uart interface of the build (default can; uart: apps only)\n"
		"  -b, --bitrate BPS        CAN bitrate: 1000000 (default), 500000, 250000\n"
		"  -V, --version TEXT       dictionary version (default \"CARTOGRAPHER 5.1.0\")\n"
		"  -s, --size BYTES         total length of an app (pads with code)\n"
		"  -o, --output FILE        where to write; - for stdout\n"
		"  app:      --app-name TEXT --initial-pins PINS --clock HZ --link-base ADDR\n"
		"            --no-anchors --ambiguous-base --no-dict --corrupt-dict\n"
		"            --dict-without-config --bridge --canboot-constant\n"
		"  katapult: --katapult-version TEXT --pad-to BYTES --code-len BYTES --no-signature\n"
		"            --no-bitrate-pattern --two-bitrates\n"
		"  full:     app options plus --katapult-iface, --katapult-bitrate, --katapult-mcu,\n"
		"            --gap-not-ff, --no-app-vectors\n"
		"  deployer: katapult options plus --embed-offset BYTES\n"
		"Examples:\n"
		"  mkimage app --iface can --bitrate 1000000 --version \"CARTOGRAPHER 5.1.0\" -o app.bin\n"
		"  mkimage katapult --iface can --bitrate 500000 --pad-to 8192 -o Katapult_500k.bin\n"
		"  mkimage full --iface usb -o Full_USB.bin\n"
		"  mkimage deployer --iface usb -o katapult-deployer-usb.bin\n");
}

static int bad(const char *what, const char *arg)
{
	fprintf(stderr, "mkimage: invalid %s '%s'; try 'mkimage --help'\n", what, arg);
	return 64;
}

static bool parse_num(const char *s, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 0);
	return !errno && end != s && !*end;
}

/* Options that take a number: returns 0 or the exit code. */
static int number_option(struct opts *o, int c, const char *arg)
{
	unsigned long v;

	if (!parse_num(arg, &v) || v > 0xFFFFFFFFul)
		return bad("number", arg);
	switch (c) {
	case 'b':
		o->full.app.bitrate = (uint32_t)v;
		if (!o->katapult_bitrate_set)
			o->full.katapult.bitrate = (uint32_t)v;
		break;
	case 's':
		o->full.app.size = v;
		break;
	case OPT_CLOCK:
		o->full.app.clock_freq = (uint32_t)v;
		break;
	case OPT_CODE_LEN:
		o->full.katapult.code_len = v;
		break;
	case OPT_EMBED_OFFSET:
		o->dep.embed_offset = v;
		break;
	case OPT_KATAPULT_BITRATE:
		o->full.katapult.bitrate = (uint32_t)v;
		o->katapult_bitrate_set = true;
		break;
	case OPT_LINK_BASE:
		o->full.app.link_base = (uint32_t)v;
		break;
	case OPT_PAD_TO:
		o->full.katapult.pad_to = v;
		break;
	}
	return 0;
}

static int flag_option(struct opts *o, int c)
{
	struct mkimage_app_opts *a = &o->full.app;
	struct mkimage_katapult_opts *k = &o->full.katapult;

	switch (c) {
	case OPT_AMBIGUOUS_BASE: a->ambiguous_base = true; break;
	case OPT_BRIDGE: a->bridge = true; break;
	case OPT_CANBOOT_CONSTANT: a->canboot_constant = true; break;
	case OPT_CORRUPT_DICT: a->corrupt_dict = true; break;
	case OPT_DICT_WITHOUT_CONFIG: a->dict_without_config = true; break;
	case OPT_GAP_NOT_FF: o->full.gap_not_ff = true; break;
	case OPT_NO_ANCHORS: a->no_anchors = true; break;
	case OPT_NO_APP_VECTORS: o->full.no_app_vectors = true; break;
	case OPT_NO_BITRATE_PATTERN: k->no_bitrate_pattern = true; break;
	case OPT_NO_DICT: a->no_dict = true; break;
	case OPT_NO_SIGNATURE: k->no_signature = true; break;
	case OPT_TWO_BITRATES: k->two_bitrates = true; break;
	default: return -1;
	}
	return 0;
}

static int text_option(struct opts *o, int c, const char *arg)
{
	enum image_iface iface;

	switch (c) {
	case 'i':
	case OPT_KATAPULT_IFACE:
		if (!strcmp(arg, "uart") && c == 'i')
			iface = IMAGE_IFACE_UART; /* an application for a UART: no CAN, no USB pins */
		else if (!image_iface_from_name(arg, &iface))
			return bad("interface (can, usb, or uart for an app)", arg);
		if (c == 'i')
			o->full.app.iface = iface;
		if (c == OPT_KATAPULT_IFACE || !o->katapult_iface_set)
			o->full.katapult.iface = iface;
		o->katapult_iface_set |= c == OPT_KATAPULT_IFACE;
		return 0;
	case 'm':
		o->full.app.mcu = arg;
		if (!o->katapult_mcu_set)
			o->full.katapult.mcu = arg;
		return 0;
	case OPT_KATAPULT_MCU:
		o->full.katapult.mcu = arg;
		o->katapult_mcu_set = true;
		return 0;
	case 'o': o->output = arg; return 0;
	case 'V': o->full.app.version = arg; return 0;
	case OPT_APP_NAME: o->full.app.app_name = arg; return 0;
	case OPT_INITIAL_PINS: o->full.app.initial_pins = arg; return 0;
	case OPT_KATAPULT_VERSION: o->full.katapult.version = arg; return 0;
	}
	return number_option(o, c, arg);
}

static int write_out(const char *path, const void *data, size_t len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "wb") : stdout;

	if (!f) {
		fprintf(stderr, "mkimage: %s: %s; check the directory exists and is writable\n",
			path, strerror(errno));
		return 73;
	}
	if (fwrite(data, 1, len, f) != len || (f != stdout ? fclose(f) : fflush(f))) {
		fprintf(stderr, "mkimage: %s: write failed: %s\n", path, strerror(errno));
		return 74;
	}
	return 0;
}

static int build(const char *kind, struct opts *o)
{
	uint8_t *img = NULL;
	size_t len = 0;
	int rc;

	o->dep.katapult = o->full.katapult;
	if (!strcmp(kind, "app")) {
		rc = mkimage_app(&o->full.app, &img, &len);
	} else if (!strcmp(kind, "katapult")) {
		rc = mkimage_katapult(&o->full.katapult, &img, &len);
	} else if (!strcmp(kind, "full")) {
		rc = mkimage_full(&o->full, &img, &len);
	} else if (!strcmp(kind, "deployer")) {
		rc = mkimage_deployer(&o->dep, &img, &len);
	} else if (!strcmp(kind, "dict")) {
		char *json = NULL;

		rc = mkimage_dictionary_json(&o->full.app, &json);
		if (!rc) {
			rc = write_out(o->output, json, strlen(json));
			free(json);
			return rc;
		}
	} else {
		return bad("kind", kind);
	}
	if (rc) {
		fprintf(stderr, "mkimage: cannot build %s: %s; check the options against --help\n",
			kind, cf_strerror(rc));
		return rc == CF_ERR_NOMEM ? 71 : 64;
	}
	rc = write_out(o->output, img, len);
	free(img);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = { .output = NULL };
	const char *kind;
	int c, rc;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-') {
		usage(stderr);
		return 64;
	}
	kind = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "b:hi:m:o:s:V:", long_opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == '?')
			return 64;
		if (flag_option(&o, c) && (rc = text_option(&o, c, optarg)))
			return rc;
	}
	if (!o.output || optind != argc) {
		fprintf(stderr, "mkimage: need -o FILE and no extra arguments; try 'mkimage --help'\n");
		return 64;
	}
	return build(kind, &o);
}
