/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The simulated CAN bus wire format: this client (sim.c) and the hub (tools/simbus) share it. */
#ifndef CARTOFLASH_SRC_TRANSPORT_SIMBUS_H
#define CARTOFLASH_SRC_TRANSPORT_SIMBUS_H

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
 */
#define SIMBUS_FRAME_SIZE    16
#define SIMBUS_TXQUEUE	     10	  /* frames per client, like the default txqueuelen */
#define SIMBUS_CLIENT_SNDBUF 2048 /* bytes; the kernel rounds it up to its minimum */
#define SIMBUS_HELLO0	     's'
#define SIMBUS_HELLO1	     'b'

#endif
