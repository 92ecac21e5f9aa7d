// SPDX-License-Identifier: GPL-3.0-or-later
// Names, sentences and exit codes for enum cf_err.
#include "protocol/err.h"

#include <assert.h>

struct err_info {
	const char *name;
	const char *text;
	int exit_code;
};

// sysexits: 64 usage, 65 data, 66 noinput, 69 unavailable, 70 software, 74 ioerr,
// 75 tempfail, 76 protocol, 77 noperm; 130 interrupted (style.md §2.10).
static const struct err_info infos[CF_ERR_COUNT] = {
	[-CF_OK] = { "ok", "success", 0 },
	[-CF_ERR_AGAIN] = { "again", "operation would block", 75 },
	[-CF_ERR_IO] = { "io", "input/output error on the transport", 74 },
	[-CF_ERR_TIMEOUT] = { "timeout", "no answer before the deadline", 74 },
	[-CF_ERR_NO_DEVICE] = { "no_device", "no matching device, or it vanished", 69 },
	[-CF_ERR_ACCESS] = { "access", "permission denied", 77 },
	[-CF_ERR_BUSY] = { "busy", "device or port is busy", 75 },
	[-CF_ERR_NOMEM] = { "nomem", "out of memory", 70 },
	[-CF_ERR_NOSPACE] = { "nospace", "buffer too small", 70 },
	[-CF_ERR_CRC] = { "crc", "checksum mismatch", 76 },
	[-CF_ERR_FRAME] = { "frame", "malformed frame", 76 },
	[-CF_ERR_NACK] = { "nack", "device rejected the frame", 76 },
	[-CF_ERR_PROTOCOL] = { "protocol", "unexpected reply from the device", 76 },
	[-CF_ERR_WEDGED] = { "wedged", "bootloader wedged: power-cycle the probe", 76 },
	[-CF_ERR_REFUSED] = { "refused", "image refused by a pre-flash check", 65 },
	[-CF_ERR_VERIFY] = { "verify", "read-back differs from the image", 76 },
	[-CF_ERR_USAGE] = { "usage", "invalid usage", 64 },
	[-CF_ERR_NOT_SUPPORTED] = { "not_supported", "operation not supported", 69 },
	[-CF_ERR_IMAGE] = { "image", "file is not a usable firmware image", 65 },
	[-CF_ERR_NOINPUT] = { "noinput", "file cannot be read", 66 },
	[-CF_ERR_INTERRUPTED] = { "interrupted", "interrupted; device left in its bootloader", 130 },
	[-CF_ERR_OTHER] = { "other", "unexpected failure", 70 },
};

static_assert(sizeof(infos) / sizeof(infos[0]) == -CF_ERR_OTHER + 1, "one entry per cf_err");

static const struct err_info *lookup(int err)
{
	if (err > 0 || err < CF_ERR_OTHER || !infos[-err].name)
		return &infos[-CF_ERR_OTHER];
	return &infos[-err];
}

const char *cf_err_name(int err)
{
	return lookup(err)->name;
}

const char *cf_strerror(int err)
{
	return lookup(err)->text;
}

int cf_err_exit_code(int err)
{
	return lookup(err)->exit_code;
}
