// SPDX-License-Identifier: GPL-3.0-or-later
// `cartoflash recover`: rewrite a probe through the STM32 ROM DFU bootloader (BOOT0 recovery).
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_run.h"
#include "dfu/dfu_backend.h"
#include "dfu/dfu_plan.h"
#include "failure.h"
#include "fleet.h"
#include "image_file.h"
#include "log.h"
#include "loop.h"
#include "protocol/dfu.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "report.h"
#include "jsonout.h"

int run_recover(int argc, char **argv);

enum {
	OPT_PATH = CMD_OPT_VERB_FIRST,
	OPT_DEVICE,
	OPT_FULL,
	OPT_BOOTLOADER,
	OPT_APP,
	OPT_MASS_ERASE,
	OPT_UNPROTECT,
	OPT_CAN,
};

#define MAX_PATHS 16

struct recover_opts {
	const char *path[MAX_PATHS]; /* --path, repeatable: those ROMs at once */
	size_t npaths;
	const char *device;
	const char *can; /* follow a CAN build there after the leave */
	const char *full;
	const char *bootloader;
	const char *app;
	struct updater_options opts;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: cartoflash recover [--path BUS-PORT... | --device VID:PID]\n"
	    "                          (--full FULL.bin | --bootloader KATAPULT.bin [--app "
	    "APP.bin])\n"
	    "\n"
	    "Rewrite a probe through the STM32 ROM DFU bootloader (bridge BOOT0 while plugging it\n"
	    "into USB; it shows up as 0483:df11). The images are checked against the device's\n"
	    "memory layout; the bootloader pages are erased, written and read back before any\n"
	    "application page is erased; each page is erased at most once; every byte is read\n"
	    "back and compared, then the probe leaves DFU mode and is followed as it comes back\n"
	    "(Katapult or the application).\n"
	    "\n"
	    "      --path BUS-PORT       the ROM at this USB path (1-1.2); needed when several\n"
	    "                            are attached: F0 ROMs all report serial FFFFFFFEFFFF.\n"
	    "                            Repeat it to recover several ROMs at once\n"
	    "      --device VID:PID      another DfuSe device id (default 0483:df11)\n"
	    "      --full FILE           Katapult + application image, written at 0x08000000;\n"
	    "                            or a DfuSe .dfu with elements at 0x08000000 (and\n"
	    "                            0x08002000)\n"
	    "      --bootloader FILE     Katapult image, written at 0x08000000\n"
	    "      --app FILE            application, written at 0x08002000 (with --bootloader)\n"
	    "      --dry-run             check everything and print the erase/write plan\n"
	    "      --allow-unknown       lift R7: write builds that are no known release\n"
	    "      --mass-erase          erase the whole flash instead of the planned pages\n"
	    "      --unprotect           remove read protection first: THIS WIPES THE WHOLE CHIP\n"
	    "                            (keep BOOT0 bridged: it comes back in the ROM)\n"
	    "      --no-reboot           stay in ROM DFU mode after the verify\n"
	    "      --can IFACE           a CAN build: find the probe on this bus after the\n"
	    "                            leave (can0, sim:PATH) and report its CAN UUID\n"
	    "      --timeout DURATION    wait this long for the ROM to appear, and for the probe\n"
	    "                            to come back after leaving DFU mode (default: no wait,\n"
	    "                            5s)\n"
	    "      --json                one JSON object per line on stdout, summary last\n"
	    "  -v, --verbose             more detail; -vvv traces every USB request\n"
	    "  -q, --quiet               errors only\n"
	    "\n"
	    "Exit codes: 0 written and verified, 64 usage or several devices, 65 image refused,\n"
	    "66 image unreadable, 69 no DFU device, 74 USB I/O, 76 device protocol (verify\n"
	    "mismatch, read protection), 77 no permission (udev rule), 130 interrupted.\n"
	    "\n"
	    "Examples:\n"
	    "  cartoflash recover --full Full_Survey_Cartographer_USB_5_1_0.bin\n"
	    "  cartoflash recover --path 1-1.2 --bootloader Katapult_USB.bin --app app.bin\n"
	    "  cartoflash recover --full full.bin --dry-run\n"
	    "  cartoflash recover --path 1-1 --path 1-2 --full Full_USB.bin\n");
}

static int parse_recover(int argc, char **argv, struct recover_opts *o)
{
	static const struct option longopts[] = {
	    {"app", required_argument, NULL, OPT_APP},
	    {"bootloader", required_argument, NULL, OPT_BOOTLOADER},
	    {"can", required_argument, NULL, OPT_CAN},
	    {"device", required_argument, NULL, OPT_DEVICE},
	    {"dry-run", no_argument, NULL, CMD_OPT_DRY_RUN},
	    {"full", required_argument, NULL, OPT_FULL},
	    {"mass-erase", no_argument, NULL, OPT_MASS_ERASE},
	    {"no-reboot", no_argument, NULL, CMD_OPT_NO_REBOOT},
	    {"path", required_argument, NULL, OPT_PATH},
	    {"timeout", required_argument, NULL, CMD_OPT_TIMEOUT},
	    {"unprotect", no_argument, NULL, OPT_UNPROTECT},
	    CMD_RELEASE_OPTIONS,
	    CMD_COMMON_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	int c, rc;

	while ((c = getopt_long(argc, argv, "hqv", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return -1;
		case OPT_PATH:
			if (o->npaths == MAX_PATHS)
				return cli_usage_error("recover", "at most %d --path", MAX_PATHS);
			o->path[o->npaths++] = optarg;
			continue;
		case OPT_DEVICE:
			o->device = optarg;
			continue;
		case OPT_CAN:
			o->can = optarg;
			continue;
		case OPT_FULL:
			o->full = optarg;
			continue;
		case OPT_BOOTLOADER:
			o->bootloader = optarg;
			continue;
		case OPT_APP:
			o->app = optarg;
			continue;
		case OPT_MASS_ERASE:
			o->opts.mass_erase = true;
			continue;
		case OPT_UNPROTECT:
			o->opts.unprotect = true;
			continue;
		default:
			break;
		}
		if (cli_common_option(c))
			continue;
		rc = cmd_updater_option(&o->opts, "recover", c, optarg);
		if (rc == 1)
			continue;
		return rc ? rc : cli_bad_option("recover", argc, argv, "hqv");
	}
	if (optind != argc)
		return cli_usage_error("recover", "unexpected argument '%s'", argv[optind]);
	if (!o->full == !o->bootloader)
		return cli_usage_error("recover", "name exactly one of --full and --bootloader");
	if (o->app && !o->bootloader)
		return cli_usage_error("recover", "--app goes with --bootloader (a full image "
						  "already holds the application)");
	if (o->npaths && o->device)
		return cli_usage_error("recover", "--path and --device exclude each other");
	return 0;
}

/*
 * The bootloader image (and the application a DfuSe file carries, dfu.md §1.9) through the one
 * image loader. Returns an exit code: 0 with img (and app when *has_app) filled.
 */
static int load_images(const char *path, struct image_file *img, struct image_file *app,
		       bool *has_app)
{
	struct image_file parts[IMAGE_FILE_MAX_PARTS];
	struct cf_failure why;
	size_t n;

	*has_app = false;
	cf_failure_clear(&why);
	if (image_file_load(path, parts, &n, &why) < 0)
		return cli_fail(&why);
	for (size_t i = 0; i < n; i++) {
		if (parts[i].address == IMAGE_APP_START) {
			*app = parts[i];
			*has_app = true;
		} else {
			*img = parts[i];
		}
	}
	if (img->data)
		return 0;
	image_file_fini(app);
	*has_app = false;
	cf_failure_set(&why, CF_ERR_REFUSED, "image", "%s: no element at 0x%08x", path,
		       IMAGE_FLASH_BASE);
	cf_failure_set_hint(&why, "a recovery .dfu holds the bootloader at 0x08000000 and "
				  "optionally the application at 0x08002000 "
				  "(dfuse-pack -b ADDR:FILE ...)");
	return cli_fail(&why);
}

static void print_plan_json(const struct dfu_plan *plan)
{
	json_t *pages = json_array(), *writes = json_array(), *obj;
	char hex[16];

	for (size_t i = 0; i < plan->npages; i++) {
		snprintf(hex, sizeof(hex), "0x%08x", plan->page[i]);
		json_array_append_new(pages, json_string(hex));
	}
	for (size_t i = 0; i < plan->count; i++) {
		snprintf(hex, sizeof(hex), "0x%08x", plan->img[i].address);
		json_array_append_new(writes, json_pack("{s:s, s:s, s:I}", "image",
							plan->img[i].name, "address", hex, "length",
							(json_int_t)plan->img[i].len));
	}
	obj = json_pack("{s:s, s:b, s:o, s:o}", "event", "plan", "mass_erase", plan->mass_erase,
			"erase", pages, "write", writes);
	jsonout_emit(obj);
}

static void print_plans(struct fleet *fleet)
{
	for (int i = 0; i < fleet_count(fleet); i++) {
		struct updater *u = fleet_get_updater(fleet, i);
		const struct dfu_plan *plan = dfu_backend_get_plan(u);

		if (!plan)
			continue;
		if (cli_common.json) {
			print_plan_json(plan);
			continue;
		}
		if (fleet_count(fleet) > 1)
			printf("usb %s:\n", updater_identity(u)->usb_path);
		dfu_plan_print(plan, stdout);
	}
}

/* One job per --path (several ROMs at once, one loop), else one for --device / the only ROM. */
static int add_jobs(struct fleet *fleet, const struct recover_opts *o, struct updater_config *cfg)
{
	const bool dry = o->opts.dry_run;
	const size_t jobs = o->npaths ? o->npaths : 1;

	for (size_t i = 0; i < jobs; i++) {
		snprintf(cfg->target.usb_path, sizeof(cfg->target.usb_path), "%s",
			 o->npaths   ? o->path[i]
			 : o->device ? o->device
				     : "");
		if (fleet_add(fleet, cfg, dry ? fleet_steps_check : fleet_steps_flash, dry ? 2 : 5,
			      NULL) < 0)
			return CF_ERR_NOMEM;
	}
	return CF_OK;
}

static int run_job(const struct recover_opts *o, struct image_file *img, struct image_file *app)
{
	struct loop *loop = loop_new();
	struct report *report =
	    report_new(cli_common.json ? REPORT_JSON : REPORT_AUTO, stdout, stderr);
	struct fleet *fleet = loop && report ? fleet_new(loop, report) : NULL;
	struct updater_config cfg = {.ops = &dfu_ops, .loop = loop, .opts = o->opts};
	const bool dry = o->opts.dry_run;
	int code = cf_err_exit_code(CF_ERR_NOMEM);

	if (!fleet)
		goto out;
	identity_init(&cfg.target, IDENTITY_LINK_USB_DFU);
	cfg.target.mode = DEVICE_MODE_ROM_DFU;
	if (o->can)
		snprintf(cfg.target.iface, sizeof(cfg.target.iface), "%s", o->can);
	cfg.image = img->data;
	cfg.image_len = img->len;
	cfg.image_info = &img->info;
	if (app) {
		cfg.app_image = app->data;
		cfg.app_image_len = app->len;
		cfg.app_image_info = &app->info;
	}
	if (o->opts.unprotect)
		cf_log(CF_LOG_WARN, NULL, NULL,
		       "--unprotect: if the chip is read-protected, "
		       "removing it erases ALL of its flash");
	if (add_jobs(fleet, o, &cfg))
		goto out;
	code = fleet_run(fleet, !dry);
	if (dry) {
		print_plans(fleet);
		report_summary(report);
	}
out:
	fleet_free(fleet);
	report_free(report);
	loop_free(loop);
	return code;
}

int run_recover(int argc, char **argv)
{
	struct recover_opts o = {0};
	struct image_file img = {0}, app = {0};
	bool dfu_app = false;
	int rc = parse_recover(argc, argv, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	rc = load_images(o.full ? o.full : o.bootloader, &img, &app, &dfu_app);
	if (!rc && dfu_app && o.app)
		rc = cli_usage_error("recover", "the .dfu file already holds the application");
	if (!rc && o.app)
		rc = cmd_image_load(&app, o.app);
	if (!rc) /* R7 before the device is reached, for each image written */
		rc = cmd_image_check_known(&img, o.opts.force);
	if (!rc && (o.app || dfu_app))
		rc = cmd_image_check_known(&app, o.opts.force);
	if (!rc)
		rc = run_job(&o, &img, o.app || dfu_app ? &app : NULL);
	image_file_fini(&app);
	image_file_fini(&img);
	return rc;
}
