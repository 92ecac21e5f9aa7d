/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One error enum for the whole project; pure, so protocol/ and src/ share it (style.md §2.3). */
#ifndef CARTOFLASH_PROTOCOL_ERR_H
#define CARTOFLASH_PROTOCOL_ERR_H

/* 0 is success; failures are negative. CF_ERR_AGAIN is flow control and is never reported. */
enum cf_err {
	CF_OK = 0,
	CF_ERR_AGAIN = -1,	   /* would block: retry the same unit when ready */
	CF_ERR_IO = -2,		   /* transport I/O failed */
	CF_ERR_TIMEOUT = -3,	   /* no answer before the deadline */
	CF_ERR_NO_DEVICE = -4,	   /* no matching device, or it vanished */
	CF_ERR_ACCESS = -5,	   /* permission denied */
	CF_ERR_BUSY = -6,	   /* device or port held by someone else, or device busy */
	CF_ERR_NOMEM = -7,	   /* allocation failed */
	CF_ERR_NOSPACE = -8,	   /* caller's buffer too small */
	CF_ERR_CRC = -9,	   /* checksum mismatch */
	CF_ERR_FRAME = -10,	   /* malformed frame: bad trailer, length, sync */
	CF_ERR_NACK = -11,	   /* device rejected a frame */
	CF_ERR_PROTOCOL = -12,	   /* unexpected reply or state */
	CF_ERR_WEDGED = -13,	   /* bootloader parser wedged: needs a power cycle */
	CF_ERR_REFUSED = -14,	   /* image refused by a pre-flash rule */
	CF_ERR_VERIFY = -15,	   /* read-back differs from the image */
	CF_ERR_USAGE = -16,	   /* bad command line or argument */
	CF_ERR_NOT_SUPPORTED = -17, /* operation not offered by this device or transport */
	CF_ERR_IMAGE = -18,	   /* image malformed or unreadable as firmware */
	CF_ERR_NOINPUT = -19,	   /* file cannot be opened or read */
	CF_ERR_INTERRUPTED = -20,  /* stopped by the user; device left in its bootloader */
	CF_ERR_OTHER = -21,	   /* anything else; keep last */
};
#define CF_ERR_COUNT 22 /* number of codes including CF_OK */

/* Stable snake_case token for JSON and logs ("verify"); never NULL. */
const char *cf_err_name(int err);
/* One human sentence; never NULL. */
const char *cf_strerror(int err);
/* sysexits-style process exit code for a final error (style.md §2.10); 0 for CF_OK. */
int cf_err_exit_code(int err);

#endif
