// SPDX-License-Identifier: GPL-3.0-or-later
// Picks the transport for a CAN target: "sim:PATH" is the simulated bus, anything else SocketCAN.
#include "transport.h"

#include <string.h>

#include "transport/transports.h"

const struct transport_ops *transport_ops_for_can(const char *spec)
{
	if (!spec)
		return NULL;
	/* style.md §2.10: interfaces keep the kernel's names, plus sim:PATH. */
	if (!strncmp(spec, "sim:", 4))
		return &sim_ops;
	return &socketcan_ops;
}
