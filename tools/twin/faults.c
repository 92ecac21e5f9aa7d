/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Faults on demand: drop, corrupt or delay the Nth frame in either direction. */
#include "tools/twin/twin_priv.h"

/* Drop, delay or pass the unit; corruption happens in place. */
int twin_fault_rx(struct twin *t, uint8_t *data, size_t len)
{
	uint32_t n = ++t->rx_seen;

	if (t->faults.drop_rx && n == t->faults.drop_rx) {
		twin_logf(t, "fault: dropped host->device frame %u", n);
		return TWIN_RX_DROP;
	}
	if (t->faults.drop_rx_after_delay && t->delay_fired_rx &&
	    n == t->delay_fired_rx - 1 + t->faults.drop_rx_after_delay) {
		twin_logf(t, "fault: dropped host->device frame %u behind the late reply", n);
		return TWIN_RX_DROP;
	}
	if (t->faults.corrupt_rx && n == t->faults.corrupt_rx && len) {
		data[len - 1] ^= 1;
		twin_logf(t, "fault: corrupted host->device frame %u", n);
	}
	if (t->faults.delay_rx && n == t->faults.delay_rx && !t->delayed.on) {
		twin_logf(t, "fault: delayed host->device frame %u by %llu us", n,
			  (unsigned long long)t->faults.delay_us);
		return TWIN_RX_DELAY;
	}
	return TWIN_RX_DELIVER;
}

/* Returns 1 to drop, 0 to send (data possibly corrupted, *ready_us possibly later). */
int twin_fault_tx(struct twin *t, uint8_t *data, size_t len, uint64_t *ready_us)
{
	uint32_t n = ++t->tx_seen;

	if (t->faults.drop_tx && n == t->faults.drop_tx) {
		twin_logf(t, "fault: dropped device->host frame %u", n);
		return 1;
	}
	if (t->faults.corrupt_tx && n == t->faults.corrupt_tx && len) {
		data[len - 1] ^= 1;
		twin_logf(t, "fault: corrupted device->host frame %u", n);
	}
	if (t->faults.delay_tx && n == t->faults.delay_tx) {
		*ready_us += t->faults.delay_us;
		t->delay_fired_rx = t->rx_seen + 1;
		twin_logf(t, "fault: delayed device->host frame %u by %llu us", n,
			  (unsigned long long)t->faults.delay_us);
	}
	return 0;
}
