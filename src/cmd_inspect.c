// SPDX-License-Identifier: GPL-3.0-or-later
// `cartoflash inspect FILE...`: what a firmware file is, where it belongs, and whether it fits.
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "failure.h"
#include "image_file.h"
#include "inspect_check.h"
#include "inspect_json.h"
#include "protocol/dfu.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "updater.h"

int run_inspect(int argc, char **argv);

/* The refusal rules take updater force bits as they are (image.h promises equal values). */
_Static_assert((unsigned)IMAGE_FORCE_BITRATE == (unsigned)UPDATER_FORCE_BITRATE, "R3 override bit");
_Static_assert((unsigned)IMAGE_FORCE_SWITCH == (unsigned)UPDATER_FORCE_SWITCH, "R4 override bit");
_Static_assert((unsigned)IMAGE_FORCE_UNKNOWN == (unsigned)UPDATER_FORCE_UNKNOWN, "R7 override bit");
_Static_assert((unsigned)IMAGE_FORCE_LINK_BASE == (unsigned)UPDATER_FORCE_LINK_BASE,
	       "R1 override bit");

/* Buffers for one run: the file being inspected, and image_inspect's scratch. */
struct inspect_ctx {
	uint8_t *buf;
	uint8_t *scratch;
	struct cf_failure fail;
	struct inspect_check check;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: cartoflash inspect [--json] [-v|-q] [--check katapult|dfu DEVICE...] FILE...\n"
	    "\n"
	    "Classify firmware files (- = stdin) by their bytes (spec images.md): kind (app,\n"
	    "full, katapult, deployer), load address, MCU, interface, CAN bitrate, version,\n"
	    "SHA-256, size, known release build and flash budget; for full images and deployers\n"
	    "also the embedded Katapult. Warns when the file name contradicts the content.\n"
	    "Nothing is sent to any device.\n"
	    "\n"
	    "  --json                    one JSON object per file per line\n"
	    "  -h, --help                this text\n"
	    "\n"
	    "Offline refusal check (rules R1-R6 of a flash, for a device you describe):\n"
	    "  --check katapult|dfu      the path the image would take\n"
	    "  --device-mcu MCU          what Katapult's CONNECT reports (stm32f042x6)\n"
	    "  --app-start ADDR          Katapult's application start (default 0x08002000)\n"
	    "  --flash-size BYTES        DFU: flash size of the device's layout\n"
	    "  --device-iface can|usb    how the device talks now\n"
	    "  --bus-bitrate BPS         bitrate of the CAN bus the probe will be on\n"
	    "  --switch-to can|usb       an interface switch is intended (R4)\n"
	    "  --allow-bitrate-mismatch  lift R3\n"
	    "  --load-address ADDR       state the load address of an image without one (R1)\n"
	    "  --require-known           also R7: only known release builds (images.md App. A)\n"
	    "  --allow-unknown           lift R7 (--force-unknown is the old name)\n"
	    "  --running-version TEXT    also R8: the version the probe runs (K1/HT/lite/IDM)\n"
	    "  --allow-variant-change    lift R8\n"
	    "\n"
	    "Exit status: 0 every file is firmware (and accepted by --check); 65 some file is\n"
	    "unknown, malformed or refused; 66 some file cannot be read; 64 usage error.\n"
	    "\n"
	    "Examples:\n"
	    "  cartoflash inspect Survey_Cartographer_CAN_1000000_8kib_offset.bin\n"
	    "  cartoflash inspect --json firmware/*.bin\n"
	    "  cartoflash inspect --check katapult --device-mcu stm32f042x6 --device-iface can \\\n"
	    "      --bus-bitrate 1000000 Survey_Cartographer_CAN_250000_8kib_offset.bin\n");
}

/* The one bounded reader of every verb (image_file.h): its error texts, its size limit. */
static int read_file(struct inspect_ctx *c, const char *path, size_t *len)
{
	cf_failure_clear(&c->fail);
	free(c->buf);
	c->buf = NULL;
	return image_file_read(path, &c->buf, len, &c->fail);
}

/* Why an image is not firmware, in the user's words. */
static int explain(struct inspect_ctx *c, const struct image_info *in, size_t len)
{
	if (len == 0) {
		cf_failure_set_hint(&c->fail, "download the firmware file again");
		return cf_failure_set(&c->fail, CF_ERR_IMAGE, "inspect", "empty file");
	}
	if (len > IMAGE_MAX_SIZE) {
		cf_failure_set_hint(&c->fail, "pick the .bin release image of the probe");
		return cf_failure_set(&c->fail, CF_ERR_IMAGE, "inspect",
				      "larger than 1 MiB, not probe firmware");
	}
	if (in->warnings & IMAGE_WARN_DICT_DAMAGED) {
		cf_failure_set_hint(&c->fail, "the file is corrupt: download it again");
		return cf_failure_set(&c->fail, CF_ERR_IMAGE, "inspect",
				      "the data dictionary is damaged (zlib or JSON error)");
	}
	cf_failure_set_hint(&c->fail, "pick a Cartographer/Katapult .bin release image");
	if (len < 8)
		return cf_failure_set(&c->fail, CF_ERR_IMAGE, "inspect",
				      "%zu bytes is too short for a vector table", len);
	return cf_failure_set(&c->fail, CF_ERR_IMAGE, "inspect",
			      "not a firmware image: no Katapult signature at the reset vector, no "
			      "data dictionary, no embedded Katapult");
}

static void print_bitrate(const char *label, uint32_t bitrate, enum image_bitrate_source src,
			  enum image_iface iface)
{
	if (iface != IMAGE_IFACE_CAN)
		return;
	if (bitrate)
		printf("  %-16s %u (%s)\n", label, bitrate, image_bitrate_source_name(src));
	else
		printf("  %-16s unknown (not readable from the bytes)\n", label);
}

static void print_budget(const struct image_info *in)
{
	if (!in->load_known || !in->flash_size) {
		printf("  %-16s unknown (%s)\n", "flash budget",
		       in->load_known ? "MCU unknown" : "load address unknown");
		return;
	}
	if (!in->fits && in->flash_end_offset <= in->flash_size) {
		printf("  %-16s OVERFLOWS the 8192-byte bootloader region by %ld bytes\n",
		       "flash budget", in->overflow_bytes);
		return;
	}
	if (in->fits)
		printf("  %-16s fits: ends at offset %llu of %u (%llu bytes free)\n",
		       "flash budget", (unsigned long long)in->flash_end_offset, in->flash_size,
		       (unsigned long long)(in->flash_size - in->flash_end_offset));
	else
		printf("  %-16s OVERFLOWS by %ld bytes (ends at offset %llu of %u)\n",
		       "flash budget", in->overflow_bytes, (unsigned long long)in->flash_end_offset,
		       in->flash_size);
}

static void print_katapult_part(const char *label, const struct image_katapult_part *k)
{
	printf("  %-16s offset %zu, %zu bytes, %s, %s", label, k->offset, k->len,
	       k->mcu[0] ? k->mcu : "mcu unknown", image_iface_name(k->iface));
	if (k->iface == IMAGE_IFACE_CAN && k->can_bitrate)
		printf(" %u (%s)", k->can_bitrate, image_bitrate_source_name(k->bitrate_source));
	else if (k->iface == IMAGE_IFACE_CAN)
		printf(" bitrate unknown");
	printf(", %s\n", k->version[0] ? k->version : "no version string");
}

static void print_parts(const struct image_info *in)
{
	const struct image_app_part *a = &in->app;

	if (in->kind == IMAGE_FULL || in->kind == IMAGE_KATAPULT)
		print_katapult_part("katapult part", &in->katapult);
	if (in->kind == IMAGE_DEPLOYER)
		print_katapult_part("embeds katapult", &in->katapult);
	if (in->kind == IMAGE_FULL) {
		printf("  %-16s offset %zu, %zu bytes, ", "application", a->offset, a->len);
		if (a->load_known)
			printf("linked at 0x%08X\n", a->link_base);
		else
			printf("link base unknown\n");
		printf("  %-16s %s\n", "gap to 0x2000",
		       in->gap_all_ff ? "all 0xFF" : "NOT all 0xFF");
	}
	if (a->has_dict && (in->kind == IMAGE_APP || in->kind == IMAGE_FULL))
		printf("  %-16s offset %zu, %zu bytes, clock %u Hz%s%s\n", "dictionary",
		       a->dict_offset, a->dict_len, a->clock_freq, a->app_name[0] ? ", app " : "",
		       a->app_name);
	if (in->kind == IMAGE_KATAPULT && a->has_dict)
		printf("  %-16s carries a dictionary, version \"%s\"\n", "trailing data",
		       a->version);
	if (a->usb_vid && (in->kind == IMAGE_APP || in->kind == IMAGE_FULL))
		printf("  %-16s %04x:%04x %s\n", "usb id", a->usb_vid, a->usb_pid,
		       a->usb_manufacturer);
	else if (in->katapult.usb_vid && in->kind != IMAGE_FULL)
		printf("  %-16s %04x:%04x\n", "usb id", in->katapult.usb_vid, in->katapult.usb_pid);
}

static void print_warnings(const struct image_info *in, unsigned name_warnings)
{
	for (unsigned i = 0; i < IMAGE_WARN_COUNT; i++)
		if (in->warnings & (1u << i))
			printf("  %-16s %s\n", "warning", image_warning_text(1u << i));
	for (unsigned i = 0; i < IMAGE_NAME_WARNING_COUNT; i++)
		if (name_warnings & (1u << i))
			printf("  %-16s %s\n", "name warning", image_name_warning_text(1u << i));
}

/* images.md Appendix A: a known release build, by SHA-256 (rule R7). */
static void print_known(const struct image_info *in)
{
	const struct image_known *k = image_known_build(in->sha256);

	if (!k) {
		printf("  %-16s not a known release build\n", "release");
		return;
	}
	printf("  %-16s known: %s firmware/%s\n", "release",
	       k->repo == 'k' ? "Cartographer3D/cartographer-klipper"
			      : "Cartographer3D/cartographer_firmware",
	       k->path);
}

static void print_block(const char *file, const struct image_info *in, unsigned name_warnings)
{
	printf("%s\n", file);
	printf("  %-16s %s\n", "kind", image_kind_name(in->kind));
	if (in->load_known)
		printf("  %-16s 0x%08X\n", "load address", in->load_address);
	else
		printf("  %-16s unknown\n", "load address");
	printf("  %-16s %s", "mcu", in->mcu[0] ? in->mcu : "unknown");
	if (image_probe_generation(in))
		printf(" (%s probe)", image_probe_generation(in));
	printf("\n");
	printf("  %-16s %s\n", "interface", image_iface_name(in->iface));
	print_bitrate("can bitrate", in->can_bitrate, in->bitrate_source, in->iface);
	printf("  %-16s %s\n", "version", in->version[0] ? in->version : "none");
	printf("  %-16s ", "sha256");
	for (size_t i = 0; i < sizeof(in->sha256); i++)
		printf("%02x", in->sha256[i]);
	printf("\n  %-16s %zu bytes\n", "size", in->size);
	print_known(in);
	if (in->kind != IMAGE_UNKNOWN && in->kind != IMAGE_UF2)
		print_budget(in);
	printf("  %-16s sp 0x%08X, reset 0x%08X\n", "vectors", in->vectors.sp, in->vectors.reset);
	print_parts(in);
	print_warnings(in, name_warnings);
}

/* The verdict of --check: a table line, and the failure a flash would report. */
static int check_one(struct inspect_ctx *c, const struct image_info *info)
{
	const struct image_refusal *w = &c->check.why;
	char stage[16];

	if (!inspect_check_run(&c->check, info))
		return CF_OK;
	snprintf(stage, sizeof(stage), "refusal %s", w->rule);
	cf_failure_set(&c->fail, CF_ERR_REFUSED, stage, "%s: image %s, device %s (%s)", w->what,
		       w->image_value, w->target_value, w->reason);
	if (w->override)
		cf_failure_set_hint(&c->fail, "%s lifts this rule if you are sure", w->override);
	else
		cf_failure_set_hint(&c->fail, "use an image built for this probe");
	return CF_ERR_REFUSED;
}

static void print_check(const struct inspect_ctx *c)
{
	const struct image_refusal *w = &c->check.why;

	if (!c->check.rc) {
		printf("  %-16s accepted via %s\n", "check", inspect_check_path_name(&c->check));
		return;
	}
	printf("  %-16s REFUSED via %s: %s %s: image %s, device %s\n", "check",
	       inspect_check_path_name(&c->check), w->rule, w->what, w->image_value,
	       w->target_value);
	printf("  %-16s %s%s%s\n", "", w->reason, w->override ? "; override " : "",
	       w->override ? w->override : "");
}

/* A byte range to classify: a whole file, or one element of a DfuSe file. */
struct inspect_src {
	const char *path;  /* the file: name warnings and JSON "file" */
	const char *label; /* the block title and the device in error lines */
	const uint8_t *data;
	size_t len;
	bool element; /* DfuSe element: written at address, through alt */
	uint8_t alt;
	uint32_t address;
};

/* dfu.md §1.9: the element's address must be where the image belongs. */
static int check_element(struct inspect_ctx *c, const struct inspect_src *s,
			 const struct image_info *info)
{
	if (!s->element || !info->load_known || info->load_address == s->address)
		return CF_OK;
	cf_failure_set_hint(&c->fail, "rebuild the .dfu with each image at its load address");
	return cf_failure_set(&c->fail, CF_ERR_IMAGE, "inspect",
			      "DfuSe element at 0x%08X holds an image (%s) that belongs at 0x%08X",
			      s->address, image_kind_name(info->kind), info->load_address);
}

/* Refusal rules for a DfuSe element: at F through DFU, at A like an app behind Katapult. */
static int check_src(struct inspect_ctx *c, const struct inspect_src *s,
		     const struct image_info *info)
{
	const struct image_target saved = c->check.target;
	int rc;

	if (s->element && c->check.target.path == IMAGE_PATH_DFU) {
		c->check.target.dfu_address = s->address;
		if (s->address != IMAGE_FLASH_BASE) {
			c->check.target.path = IMAGE_PATH_KATAPULT;
			c->check.target.app_start = s->address;
		}
	}
	rc = check_one(c, info);
	c->check.target = saved;
	return rc;
}

/* Classify, print, and report one byte range: 0, CF_ERR_IMAGE or CF_ERR_REFUSED. */
static int inspect_bytes(struct inspect_ctx *c, const struct inspect_src *s)
{
	const bool huge = s->len > IMAGE_MAX_SIZE;
	struct image_info info;
	unsigned name_w = 0;
	char line[768];
	bool checked;
	int rc;

	memset(&info, 0, sizeof(info));
	cf_failure_clear(&c->fail);
	cf_failure_set_device(&c->fail, "%s", s->label);
	rc = huge ? CF_ERR_IMAGE
		  : image_inspect(s->data, s->len, c->scratch, IMAGE_SCRATCH_SIZE, &info);
	if (rc) {
		explain(c, &info, s->len);
	} else {
		name_w = s->element ? 0 : image_name_warnings(s->path, &info);
		rc = check_element(c, s, &info);
		if (!rc && c->check.enabled)
			rc = check_src(c, s, &info);
	}
	checked = c->check.enabled && rc != CF_ERR_IMAGE;
	cf_failure_format(&c->fail, line, sizeof(line));
	if (cli_common.json) {
		const struct inspect_json_src js = {s->path, s->element ? s->alt : -1, s->address};

		inspect_json_print(&js, s->data, huge ? NULL : &info, name_w,
				   checked ? &c->check : NULL, rc, line);
	} else if (!huge) {
		print_block(s->label, &info, name_w);
		if (checked)
			print_check(c);
		printf("\n");
	}
	if (rc) {
		fflush(stdout); /* the block first, then its error line */
		cf_failure_print(&c->fail);
	}
	return rc;
}

/* dfu.md §1.9: a .dfu file is classified element by element. */
static int inspect_dfuse(struct inspect_ctx *c, const char *path, size_t len)
{
	struct dfuse_element elems[8];
	size_t count = 0;
	char label[4200];
	int rc = dfuse_parse_file(c->buf, len, elems, 8, &count), worst = CF_OK;

	if (rc) {
		cf_failure_clear(&c->fail);
		cf_failure_set_device(&c->fail, "%s", path);
		cf_failure_set_hint(&c->fail, "rebuild it with dfuse-pack or use the .bin files");
		cf_failure_set(&c->fail, CF_ERR_IMAGE, "inspect", "damaged DfuSe file: %s",
			       rc == CF_ERR_CRC ? "the suffix CRC does not match"
			       : rc == CF_ERR_NOSPACE
				   ? "more than 8 elements"
				   : "bad prefix, target or element, or truncated");
		cf_failure_format(&c->fail, label, sizeof(label));
		if (cli_common.json)
			inspect_json_print(&(struct inspect_json_src){path, -1, 0}, NULL, NULL, 0,
					   NULL, CF_ERR_IMAGE, label);
		cf_failure_print(&c->fail);
		return CF_ERR_IMAGE;
	}
	for (size_t i = 0; i < count; i++) {
		const struct inspect_src s = {
		    .path = path,
		    .label = label,
		    .data = elems[i].data,
		    .len = elems[i].size,
		    .element = true,
		    .alt = elems[i].alt,
		    .address = elems[i].address,
		};

		snprintf(label, sizeof(label), "%s [alt %u @ 0x%08X]", path, elems[i].alt,
			 elems[i].address);
		rc = inspect_bytes(c, &s);
		if (rc && !worst)
			worst = rc;
	}
	return worst;
}

/* One file: returns 0, CF_ERR_IMAGE, CF_ERR_REFUSED or CF_ERR_NOINPUT. */
static int inspect_one(struct inspect_ctx *c, const char *path)
{
	static const uint8_t dfuse_magic[5] = {'D', 'f', 'u', 'S', 'e'};
	size_t len = 0;
	char line[768];
	int rc = read_file(c, path, &len);

	if (rc) {
		cf_failure_format(&c->fail, line, sizeof(line));
		if (cli_common.json)
			inspect_json_print(&(struct inspect_json_src){path, -1, 0}, NULL, NULL, 0,
					   NULL, rc, line);
		cf_failure_print(&c->fail);
		return rc;
	}
	if (len <= IMAGE_MAX_SIZE && len >= sizeof(dfuse_magic) &&
	    !memcmp(c->buf, dfuse_magic, sizeof(dfuse_magic)))
		return inspect_dfuse(c, path, len);
	return inspect_bytes(
	    c, &(struct inspect_src){.path = path, .label = path, .data = c->buf, .len = len});
}

/* Worst result first: unreadable (66) over malformed or refused (65). */
static int worse(int a, int b)
{
	if (a == CF_ERR_NOINPUT || b == CF_ERR_NOINPUT)
		return CF_ERR_NOINPUT;
	return a ? a : b;
}

/* Alphabetical. */
static const struct option inspect_opts[] = {
    {"allow-bitrate-mismatch", no_argument, NULL, INSPECT_OPT_ALLOW_BITRATE_MISMATCH},
    {"allow-unknown", no_argument, NULL, INSPECT_OPT_FORCE_UNKNOWN},
    {"allow-variant-change", no_argument, NULL, INSPECT_OPT_ALLOW_VARIANT_CHANGE},
    {"app-start", required_argument, NULL, INSPECT_OPT_APP_START},
    {"bus-bitrate", required_argument, NULL, INSPECT_OPT_BUS_BITRATE},
    {"check", required_argument, NULL, INSPECT_OPT_CHECK},
    {"device-iface", required_argument, NULL, INSPECT_OPT_DEVICE_IFACE},
    {"device-mcu", required_argument, NULL, INSPECT_OPT_DEVICE_MCU},
    {"flash-size", required_argument, NULL, INSPECT_OPT_FLASH_SIZE},
    {"force-unknown", no_argument, NULL, INSPECT_OPT_FORCE_UNKNOWN},
    {"help", no_argument, NULL, 'h'},
    {"json", no_argument, NULL, CLI_OPT_JSON},
    {"load-address", required_argument, NULL, INSPECT_OPT_LOAD_ADDRESS},
    {"quiet", no_argument, NULL, 'q'},
    {"require-known", no_argument, NULL, INSPECT_OPT_REQUIRE_KNOWN},
    {"running-version", required_argument, NULL, INSPECT_OPT_RUNNING_VERSION},
    {"switch-to", required_argument, NULL, INSPECT_OPT_SWITCH_TO},
    {"verbose", no_argument, NULL, 'v'},
    {NULL, 0, NULL, 0},
};

int run_inspect(int argc, char **argv)
{
	struct inspect_ctx c;
	int ch, rc, worst = CF_OK;

	memset(&c, 0, sizeof(c));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "hqv", inspect_opts, NULL)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			return 0;
		}
		if (ch == '?')
			return cli_bad_option("inspect", argc, argv, "hqv");
		if (cli_common_option(ch))
			continue;
		rc = inspect_check_option(&c.check, ch, optarg);
		if (rc < 0)
			return cf_err_exit_code(rc);
		if (!rc)
			return cli_usage_error("inspect", "unknown option");
	}
	if (!c.check.enabled &&
	    (c.check.force || c.check.require_known || c.check.running_version[0] ||
	     c.check.target.mcu[0] || c.check.target.bus_bitrate || c.check.target.iface))
		return cli_usage_error("inspect", "device options need --check katapult|dfu");
	if (optind >= argc)
		return cli_usage_error("inspect", "no FILE given");
	c.scratch = malloc(IMAGE_SCRATCH_SIZE);
	if (!c.scratch) {
		worst = CF_ERR_NOMEM;
		fprintf(stderr,
			"cartoflash: inspect: out of memory; close other programs and retry\n");
		goto err_free;
	}
	for (int i = optind; i < argc; i++)
		worst = worse(worst, inspect_one(&c, argv[i]));
	fflush(stdout);
err_free:
	free(c.scratch);
	free(c.buf);
	return cf_err_exit_code(worst);
}
