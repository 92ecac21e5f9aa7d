// SPDX-License-Identifier: GPL-3.0-or-later
// dfuemu: serve emulated STM32 ROM DFU devices to a libusb program through umockdev (dfu.md §5).
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu.h"
#include "protocol/dfu.h"

struct emu emu;

/* ---- main ---- */

static void child_exited(GPid pid, gint status, gpointer data)
{
	(void)data;
	g_spawn_close_pid(pid);
	emu.child_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	g_main_loop_quit(emu.main_loop);
}

static int parse_faults(const char *list)
{
	char **words = g_strsplit(list, ",", -1);
	int rc = 0;

	for (char **w = words; *w; w++) {
		if (!strcmp(*w, "leave-reset"))
			emu.faults |= ROM_DFU_FAULT_RESET_BEFORE_LEAVE_STATUS;
		else if (!strcmp(*w, "rdp"))
			emu.faults |= ROM_DFU_FAULT_RDP;
		else if (!strcmp(*w, "stall-busy"))
			emu.faults |= ROM_DFU_FAULT_STALL_WHILE_BUSY;
		else if (!strncmp(*w, "wrp", 3)) {
			emu.faults |= ROM_DFU_FAULT_WRP;
			emu.wrp_page = (*w)[3] == '=' ? (unsigned)atoi(*w + 4) : 0;
		} else if (!strcmp(*w, "access"))
			emu.deny_access = true;
		else if (!strcmp(*w, "slow-erase"))
			emu.faults |= ROM_DFU_FAULT_SLOW_ERASE;
		else if (!strcmp(*w, "reenumerating"))
			emu.reenumerating = true;
		else if (!strncmp(*w, "flip", 4)) {
			emu.faults |= ROM_DFU_FAULT_FLIP;
			emu.flip_address =
			    (*w)[4] == '=' ? (uint32_t)strtoul(*w + 5, NULL, 0) : 0x08005555u;
		} else if (!strncmp(*w, "vanish-erase", 12)) {
			emu.faults |= ROM_DFU_FAULT_VANISH_MID_ERASE;
			emu.vanish_after_erases = (*w)[12] == '=' ? (unsigned)atoi(*w + 13) : 10;
		} else if (!strncmp(*w, "vanish", 6)) {
			emu.faults |= ROM_DFU_FAULT_VANISH_MID_WRITE;
			emu.vanish_after = (*w)[6] == '=' ? (unsigned)atoi(*w + 7) : 4;
		} else {
			fprintf(stderr, "dfuemu: unknown fault '%s'\n", *w);
			rc = -1;
		}
	}
	g_strfreev(words);
	return rc;
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: dfuemu [--devices N] [--fault LIST] [--flash-in FILE] [--flash-out FILE]\n"
	    "              [--speed S] [--stats FILE] [--reappear katapult|app [--uid HEX]]\n"
	    "              [--appear-after MS] [--stale-ms MS] [--replug-ms MS]\n"
	    "              [--unprotect-ms MS] [--then-twin 'TWIN ARGS'] -- CMD ARGS...\n"
	    "Serves N emulated STM32F042 ROM DFU devices (0483:df11, USB paths 1-1, 1-2, ...)\n"
	    "to CMD through umockdev, then writes each flash (device k > 1 to FILE.k) and\n"
	    "exits with CMD's status. --speed scales the F042 datasheet times (erase 25 ms a\n"
	    "page, 53.5 us a half-word, mass erase 40 ms), busy time and bwPollTimeout alike:\n"
	    "1 (default) the datasheet, 0 instant with bwPollTimeout 0.\n"
	    "Faults: leave-reset, rdp, stall-busy, slow-erase, vanish[=BLOCKS] (gone after\n"
	    "that many block writes), vanish-erase[=PAGES] (gone at the erase after that many),\n"
	    "wrp[=PAGE] (write-protected: erase and program silently do nothing), flip[=ADDR]\n"
	    "(the cell at ADDR programs its lowest 0 bit as 1, with no error), reenumerating\n"
	    "(the ROM is re-enumerating when CMD starts: listed but gone, then back), access\n"
	    "(the node cannot be opened: run as root, CMD then runs as nobody).\n"
	    "A device that leaves the bus (leave, reset, vanish) stays listed --stale-ms\n"
	    "(default 300) with every request failing ENODEV; after a reset (read unprotect,\n"
	    "which takes --unprotect-ms, default 40) the ROM is back --replug-ms (default 300)\n"
	    "after that. --reappear: after a leave to 0x08000000 the port shows Katapult\n"
	    "(1d50:6177) or the application (1d50:614e) with serial --uid (sysfs only).\n"
	    "--appear-after: the devices are plugged in MS after CMD started. --then-twin: after\n"
	    "a leave the probe twin runs the written flash with --uid and TWIN ARGS.\n"
	    "\nExamples:\n"
	    "  dfuemu --flash-out flash.bin -- dfu-util -a 0 -s 0x08000000:leave -D full.bin\n"
	    "  dfuemu --devices 2 -- cartoflash recover --path 1-2 --full full.bin\n");
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"devices", required_argument, NULL, 'n'},
	    {"fault", required_argument, NULL, 'f'},
	    {"flash-in", required_argument, NULL, 'i'},
	    {"flash-out", required_argument, NULL, 'o'},
	    {"appear-after", required_argument, NULL, 'a'},
	    {"replug-ms", required_argument, NULL, 'R'},
	    {"stale-ms", required_argument, NULL, 'S'},
	    {"unprotect-ms", required_argument, NULL, 'U'},
	    {"help", no_argument, NULL, 'h'},
	    {"then-twin", required_argument, NULL, 'T'},
	    {"reappear", required_argument, NULL, 'r'},
	    {"speed", required_argument, NULL, 's'},
	    {"stats", required_argument, NULL, 't'},
	    {"uid", required_argument, NULL, 'u'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	emu.count = 1;
	emu.speed = 1.0;
	emu.stale_ms = STALE_MS;
	emu.replug_ms = REPLUG_MS;
	emu.uid = "16000C000F43304253373820"; /* katapult.md §2.3 vector: UUID e0ef270ca188 */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			emu.count = atoi(optarg);
			break;
		case 'f':
			if (parse_faults(optarg))
				return -1;
			break;
		case 'i':
			emu.flash_in = optarg;
			break;
		case 'o':
			emu.flash_out = optarg;
			break;
		case 's':
			emu.speed = atof(optarg);
			break;
		case 't':
			emu.stats_file = optarg;
			break;
		case 'r':
			if (strcmp(optarg, "katapult") && strcmp(optarg, "app"))
				return -1;
			emu.reappear = optarg;
			break;
		case 'u':
			emu.uid = optarg;
			break;
		case 'a':
			emu.appear_after_ms = (unsigned)atoi(optarg);
			break;
		case 'R':
			emu.replug_ms = (unsigned)atoi(optarg);
			break;
		case 'S':
			emu.stale_ms = (unsigned)atoi(optarg);
			break;
		case 'U':
			emu.unprotect_ms = (unsigned)atoi(optarg);
			break;
		case 'T':
			emu.then_twin = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (emu.count < 1 || emu.count > MAX_DEVICES || emu.speed < 0 || emu.speed > 1 ||
	    optind >= argc)
		return -1;
	return optind;
}

/* umockdev works by LD_PRELOAD: without it, start again under umockdev-wrapper. */
static void reexec_under_wrapper(int argc, char **argv)
{
	char self[4096];
	const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char **args = g_new0(char *, (gsize)argc + 2);

	if (n <= 0) {
		fprintf(stderr, "dfuemu: cannot find my own binary\n");
		exit(70);
	}
	self[n] = '\0';
	args[0] = "umockdev-wrapper";
	args[1] = self;
	for (int i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	execvp(args[0], args);
	fprintf(stderr, "dfuemu: cannot run umockdev-wrapper: %s (install umockdev)\n",
		strerror(errno));
	exit(69);
}

/*
 * --fault access: a device node the tool may not open, as without the udev rule. Root opens
 * any file, so then the testbed is made readable to all, the node left to root and the child
 * started as nobody (LD_PRELOAD survives: no setuid binary is involved).
 */
static void deny_access(void)
{
	char *root = umockdev_testbed_get_root_dir(emu.testbed);
	char *path;

	chmod(root, 01777); /* libudev emulation binds its event socket there */
	path = g_build_filename(root, "ioctl", "_default", NULL);
	chmod(path, 0666);
	g_free(path);
	for (int i = 0; i < emu.count; i++) {
		path = g_build_filename(root, "ioctl", emu.dev[i].devnode, NULL);
		chmod(path, 0666); /* the handler's socket: connecting needs write permission */
		g_free(path);
		path = g_build_filename(root, emu.dev[i].devnode, NULL);
		chmod(path, getuid() == 0 ? 0600 : 0);
		g_free(path);
	}
	g_free(root);
}

static void drop_to_nobody(gpointer data)
{
	(void)data;
	if (getuid() != 0)
		return;
	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		_exit(70);
}

/* --fault reenumerating: the chip has just reset; its old instance is still listed. */
static void start_reenumerating(struct emu_device *d)
{
	d->model.gone = true;
	d->model.reset = true;
	disconnect(d);
}

static gboolean plug_in(gpointer data)
{
	(void)data;
	for (int i = 0; i < emu.count; i++) {
		if (!add_device(&emu.dev[i]))
			g_main_loop_quit(emu.main_loop);
		else if (emu.reenumerating)
			start_reenumerating(&emu.dev[i]);
	}
	return G_SOURCE_REMOVE;
}

static int run_child(char **cmd)
{
	GError *err = NULL;
	GPid pid;

	if (emu.deny_access)
		deny_access();
	if (!g_spawn_async(NULL, cmd, NULL,
			   G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH |
			       G_SPAWN_CHILD_INHERITS_STDIN,
			   emu.deny_access ? drop_to_nobody : NULL, NULL, &pid, &err)) {
		fprintf(stderr, "dfuemu: cannot start %s: %s\n", cmd[0], err->message);
		g_clear_error(&err);
		return 127;
	}
	g_child_watch_add(pid, child_exited, NULL);
	g_main_loop_run(emu.main_loop);
	return emu.child_status;
}

int main(int argc, char **argv)
{
	const int cmd_at = parse_args(argc, argv);
	int rc;

	if (cmd_at < 0) {
		usage(stderr);
		return 64;
	}
	/* umockdev_in_mock_environment() only turns true once a testbed exists: look at the
	 * preload list instead. */
	if (!getenv("LD_PRELOAD") || !strstr(getenv("LD_PRELOAD"), "umockdev-preload"))
		reexec_under_wrapper(argc, argv);
	emu.testbed = umockdev_testbed_new();
	emu.main_loop = g_main_loop_new(NULL, FALSE);
	g_mutex_init(&emu.lock);
	for (int i = 0; i < emu.count; i++)
		init_device(&emu.dev[i], i + 1);
	for (int i = 0; i < emu.count && !emu.appear_after_ms; i++) {
		if (!add_device(&emu.dev[i]))
			return 70;
		if (emu.reenumerating)
			start_reenumerating(&emu.dev[i]);
	}
	if (emu.appear_after_ms)
		g_timeout_add(emu.appear_after_ms, plug_in, NULL);
	rc = run_child(argv + cmd_at);
	stop_twin();
	for (int i = 0; i < emu.count; i++) {
		struct emu_device *d = &emu.dev[i];

		if (save_flash(d) && rc == 0)
			rc = 73;
		if (emu.stats_file) {
			FILE *f = fopen(emu.stats_file, i ? "a" : "w");

			if (f) {
				write_stats(f, d);
				fclose(f);
			}
		}
		if (!d->handler)
			continue; /* never plugged in (--appear-after) */
		umockdev_testbed_detach_ioctl(emu.testbed, d->devnode, NULL);
	}
	g_clear_object(&emu.handler);
	g_main_loop_unref(emu.main_loop);
	g_object_unref(emu.testbed);
	return rc;
}
