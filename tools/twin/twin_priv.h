/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Internals of the probe twin shared by its files; nothing outside tools/twin includes this. */
#ifndef CARTOFLASH_TOOLS_TWIN_TWIN_PRIV_H
#define CARTOFLASH_TOOLS_TWIN_TWIN_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/canbus.h"
#include "protocol/mcu.h"
#include "tools/twin/twin.h"

/* katapult.md §5: the RAM request flag values. */
#define TWIN_REQUEST_CANBOOT   0x5984e3fa6ca1589bull
#define TWIN_REQUEST_START_APP 0x7b06ec45a9a8243dull

#define TWIN_CAN_RX_SIZE 192u /* katapult.md §1.5: CAN receive stream buffer */
#define TWIN_CAN_TX_SIZE 96u  /* katapult.md §1.5: CAN transmit buffer */
#define TWIN_USB_RX_SIZE 128u /* katapult.md §1.5: USB CDC receive buffer */
#define TWIN_USB_PACKET	 64u  /* USB full-speed bulk packet */
#define TWIN_RX_MAX	 192u
#define TWIN_TXQ_FRAMES	 128u
#define TWIN_TXQ_BYTES	 4096u

/* What one image region holds, decided once per flash change (images.md §4). */
struct twin_installed {
	bool katapult_ok; /* bootloader region holds a Katapult with its signature */
	enum twin_iface bl_iface;
	uint32_t bl_bitrate;
	char bl_mcu[32];
	char bl_version[64]; /* "" -> protocol 1.0.0 */
	bool app_valid_word; /* katapult.md §5: first word neither 0 nor 0xFFFFFFFF */
	enum { TWIN_APP_NONE, TWIN_APP_KLIPPER, TWIN_APP_DEPLOYER, TWIN_APP_GARBAGE } app_kind;
	enum twin_iface app_iface;
	uint32_t app_bitrate;
	size_t dict_off, dict_len; /* flash offsets of the app's zlib dictionary */
	char app_product[32];	   /* USB product: "" in <= 5.x, the MCU when the dict has "app" */
	size_t dep_off, dep_len;   /* flash offsets of the deployer's embedded Katapult */
	char garbage_reason[96];
};

/* Command and response ids of the running application, from its dictionary (-1 = absent). */
#define TWIN_APP_MAX_ID	  512
#define TWIN_APP_MAX_CMDS 64
struct twin_app_cmd {
	int16_t id;
	uint8_t nparams;
	uint8_t buf_mask; /* bit i: parameter i is a buffer (%.*s / %*s) */
};
struct twin_app_ids {
	uint8_t valid[TWIN_APP_MAX_ID / 8]; /* command ids the firmware knows */
	struct twin_app_cmd cmds[TWIN_APP_MAX_CMDS];
	size_t ncmds;
	int identify;
	int get_canbus_id, get_uptime, get_clock, get_config, reset, emergency_stop;
	int r_canbus_id, r_uptime, r_clock, r_config, r_shutdown;
};

/* Scheduled one-shot work of the boot/firmware state machine. */
enum twin_timer {
	TWIN_T_NONE,
	TWIN_T_DR_ARM,	     /* double reset: set REQUEST_CANBOOT (10 ms after reset) */
	TWIN_T_DR_END,	     /* double reset: clear the flag, jump (500 ms after reset) */
	TWIN_T_RESET,	     /* a requested reset (COMPLETE +100 ms, bootloader request) */
	TWIN_T_DEPLOY_START, /* deployer: 100 ms "power supply stable" elapsed */
	TWIN_T_DEPLOY_PAGE,  /* deployer: next page rewritten */
};

struct twin_txframe {
	uint64_t ready_us;
	struct canbus_frame f;
};

struct twin_txchunk {
	uint64_t ready_us;
	uint16_t len, off;
	uint8_t data[128];
};

struct twin {
	struct twin_config cfg;
	char *flash_file;
	const struct mcu_info *mcu; /* geometry: a probe row of protocol/mcu.c */
	uint8_t *flash;		    /* mcu->flash_size bytes */
	uint32_t flash_size, page_size, app_off;
	uint8_t *scratch; /* image_inspect scratch */
	struct twin_installed inst;
	uint8_t uid[12];
	uint8_t uuid[6];
	char serial[25];
	char reason[128];
	bool boot0, leave_once;

	/* power and mode */
	enum twin_mode mode;
	enum twin_iface iface;
	uint32_t bitrate;
	uint64_t ram_flag; /* katapult.md §5: lost on power off */
	enum twin_timer timer;
	uint64_t timer_at;
	uint64_t busy_until; /* firmware processing a command */
	uint64_t boot_at;    /* time of the last reset */
	uint64_t now;	     /* latest time seen by twin_advance */

	/* receive stream of the running firmware (CAN node stream or USB bytes) */
	uint8_t rx[TWIN_RX_MAX];
	size_t rx_len;
	int node_id; /* -1 = unassigned */

	/* Katapult state (RAM) */
	uint8_t kp_sync; /* parser flags of command_find_block */
	bool prime_hold; /* §3.4: first USB reply held until a second is queued */

	/* Klipper application state (RAM) */
	uint8_t kl_next_seq;
	uint8_t kl_sync;
	struct twin_app_ids app_ids;

	/* serial line */
	uint32_t line_baud;
	bool line_dtr;

	/* deployer */
	uint8_t deploy_img[8192];
	size_t deploy_len, deploy_pos;

	/* outputs */
	struct twin_txframe txf[TWIN_TXQ_FRAMES];
	size_t txf_head, txf_count;
	uint64_t tx_wire_free; /* when the bus is free for the next frame of this twin */
	struct twin_txchunk txc[32];
	size_t txc_head, txc_count;
	struct twin_txchunk held; /* §3.4 prime */
	bool held_valid;

	/* faults */
	struct twin_faults faults;
	struct {
		bool on;
		bool can;
		uint64_t due;
		struct canbus_frame f;
		uint8_t bytes[TWIN_USB_RX_SIZE];
		size_t len;
	} delayed; /* one host->device unit held back by the delay_rx fault */
	uint32_t rx_seen, tx_seen, blocks_seen, erases_seen;
	uint32_t delay_fired_rx; /* rx_seen when delay_tx or slow_block fired, + 1 (0: not yet) */
	uint32_t slow_seen;	 /* SEND_BLOCKs counted for slow_block */
	uint8_t late_next;	 /* 1: the slow reply is next, 2: the one after it is late */

	struct twin_stats stats;
};

/* flash.c */
int twin_flash_write_block(struct twin *t, uint32_t addr, const uint8_t *data, uint64_t *cost_us);
void twin_flash_persist(struct twin *t, uint32_t off, size_t len);
bool twin_flash_is_erased(const struct twin *t, uint32_t off, size_t len);

/* persist.c */
int twin_persist_load(struct twin *t);
int twin_persist_write(struct twin *t, uint32_t off, size_t len);

/* inspect.c */
void twin_inspect(struct twin *t);

/* boot.c */
void twin_boot(struct twin *t, uint64_t now_us);
void twin_request_reset(struct twin *t, uint64_t flag, uint64_t at_us);
void twin_bootloader_request(struct twin *t, uint64_t now_us);
void twin_hang(struct twin *t, enum twin_mode mode, const char *why);
void twin_timer_fire(struct twin *t, uint64_t now_us);
void twin_enter(struct twin *t, enum twin_mode mode, uint64_t now_us);
void twin_lose_power(struct twin *t, uint64_t now_us, const char *why);

/* app_dict.c */
void twin_app_dict_load(struct twin *t);
/* The command with that id, or NULL: an id the firmware does not know. */
const struct twin_app_cmd *twin_app_cmd_of(const struct twin *t, uint32_t id);

/* katapult_fw.c */
void twin_katapult_run(struct twin *t, uint64_t now_us);
/* app_fw.c */
void twin_app_run(struct twin *t, uint64_t now_us);
void twin_app_admin(struct twin *t, const struct canbus_frame *f, uint64_t now_us);
void twin_katapult_admin(struct twin *t, const struct canbus_frame *f, uint64_t now_us);

/* output (can_side.c / serial_side.c): queue one complete reply of the running firmware */
void twin_send(struct twin *t, const uint8_t *buf, size_t len, uint64_t ready_us);
void twin_can_send_admin(struct twin *t, const uint8_t *data, uint8_t len, uint64_t now_us);
void twin_rx_consume(struct twin *t, size_t n);
void twin_serial_queue(struct twin *t, const uint8_t *buf, size_t len, uint64_t ready_us);
/* UUID the twin reports and answers to (the wrong_uuid fault alters it) */
void twin_effective_uuid(const struct twin *t, uint8_t out[6]);
void twin_outputs_clear(struct twin *t, uint64_t now_us);

/* timing.c: model durations scaled by the speed factor */
uint64_t twin_scale(const struct twin *t, double us);

/* faults.c: TWIN_RX_* for this host->device unit; may modify the data */
enum { TWIN_RX_DELIVER, TWIN_RX_DROP, TWIN_RX_DELAY };
int twin_fault_rx(struct twin *t, uint8_t *data, size_t len);
/* can_side.c / serial_side.c: deliver a unit that the delay fault held back */
void twin_can_deliver(struct twin *t, const struct canbus_frame *f, uint64_t now_us);
void twin_serial_deliver(struct twin *t, const uint8_t *buf, size_t len, uint64_t now_us);
int twin_fault_tx(struct twin *t, uint8_t *data, size_t len, uint64_t *ready_us);

void twin_logf(struct twin *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
