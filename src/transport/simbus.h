/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The simulated CAN bus wire format: this client (sim.c) and the hub (tools/simbus) share it. */
#ifndef CARTOFLASH_SRC_TRANSPORT_SIMBUS_H
#define CARTOFLASH_SRC_TRANSPORT_SIMBUS_H

#include <stdint.h>

/*
 * A client connects a SOCK_SEQPACKET UNIX socket to the hub's path. Every record in either
 * direction is one 16-byte struct can_frame (<linux/can.h> layout). The hub sends each frame it
 * puts on the bus to every OTHER client, in arbitration order, at the end of its modelled wire
 * time. Right after accepting a client the hub sends one hello record: can_id = CAN_ERR_FLAG,
 * len 8, data "sb" 00 00 then the bitrate as u32 little-endian; readers that skip error frames
 * (as SocketCAN readers do) ignore it.
 * Backpressure: the hub reads a client's socket only while that client's transmit queue
 * (SIMBUS_TXQUEUE frames) has room; clients set a small SO_SNDBUF so they see EAGAIN when they
 * outrun the bus, as a full txqueue gives ENOBUFS on SocketCAN. The hub never drops a frame: a
 * client that does not read holds the whole bus.
 * Receive filter (what a node's CAN controller does in hardware): a client may send a
 * struct simbus_filter_msg record instead of a frame (SIMBUS_FILTER_MSG_SIZE bytes, magic
 * SIMBUS_FILTER_MAGIC). From then on the hub delivers it only frames whose 11-bit id matches
 * one of the count (id, mask) pairs ((frame id ^ id) & mask == 0); count 0, the default,
 * delivers every frame. Every frame still goes on the wire and into the log. A filter that
 * narrows never loses a frame the client would have acted on: while the client has not read
 * every frame delivered before (the hub's queue for it or its socket still holds one) or has
 * sent something the hub has not read yet, it receives frames unfiltered. So a client that
 * reads one frame at a time, reading it with MSG_PEEK and taking it off the socket only after
 * it sent the filter that frame called for, gets every frame after it under that filter, as a
 * controller that sets its filter when it processes a frame does.
 */
#define SIMBUS_FRAME_SIZE    16
#define SIMBUS_TXQUEUE	     10	  /* frames per client, like the default txqueuelen */
#define SIMBUS_CLIENT_SNDBUF 2048 /* bytes; the kernel rounds it up to its minimum */
#define SIMBUS_HELLO0	     's'
#define SIMBUS_HELLO1	     'b'

#define SIMBUS_FILTER_MAGIC 0x46627353u /* "Ssbf" */
#define SIMBUS_MAX_FILTERS  8

struct simbus_filter {
	uint32_t id, mask; /* 11-bit standard id and mask */
};

/* Always sent whole (SIMBUS_FILTER_MSG_SIZE bytes, whatever count is): never 16 bytes. */
struct simbus_filter_msg {
	uint32_t magic; /* SIMBUS_FILTER_MAGIC */
	uint32_t count; /* 0 .. SIMBUS_MAX_FILTERS; 0 = receive everything */
	struct simbus_filter f[SIMBUS_MAX_FILTERS];
};

#define SIMBUS_FILTER_MSG_SIZE (8 + 8 * SIMBUS_MAX_FILTERS)

#endif
