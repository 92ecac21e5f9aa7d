// SPDX-License-Identifier: GPL-3.0-or-later
// The transport core: checks arguments once, then dispatches to the backend's ops.
#include "transport.h"

#include <stdlib.h>
#include <string.h>

#include "failure.h"
#include "protocol/err.h"

struct transport {
	const struct transport_ops *ops;
	char *spec;
	_Alignas(max_align_t) unsigned char priv[];
};

int transport_open(const struct transport_ops *ops, const char *spec, struct transport **out,
		   struct cf_failure *why)
{
	struct transport *t;
	int err;

	*out = NULL;
	if (!ops || !spec)
		return CF_ERR_USAGE;
	t = calloc(1, sizeof(*t) + ops->priv_size);
	if (!t)
		return CF_ERR_NOMEM;
	t->ops = ops;
	t->spec = strdup(spec);
	if (!t->spec) {
		err = CF_ERR_NOMEM;
		goto err_free;
	}
	err = ops->open(t, spec, why);
	if (err < 0)
		goto err_free_spec;
	*out = t;
	return CF_OK;

err_free_spec:
	free(t->spec);
err_free:
	free(t);
	return err;
}

void transport_close(struct transport *t)
{
	if (!t)
		return;
	t->ops->close(t);
	free(t->spec);
	free(t);
}

int transport_pollfds(struct transport *t, struct pollfd *fds, int max)
{
	return max > 0 ? t->ops->pollfds(t, fds, max) : 0;
}

int transport_send(struct transport *t, const void *buf, size_t len)
{
	return t->ops->send(t, buf, len);
}

int transport_recv(struct transport *t, void *buf, size_t cap, size_t *len)
{
	*len = 0;
	return t->ops->recv(t, buf, cap, len);
}

int transport_get_bitrate(struct transport *t, uint32_t *bitrate)
{
	return t->ops->get_bitrate ? t->ops->get_bitrate(t, bitrate) : CF_ERR_NOT_SUPPORTED;
}

int transport_get_can_state(struct transport *t, enum transport_can_state *state)
{
	return t->ops->get_can_state ? t->ops->get_can_state(t, state) : CF_ERR_NOT_SUPPORTED;
}

int transport_set_filter(struct transport *t, const uint32_t *ids, size_t count)
{
	return t->ops->set_filter ? t->ops->set_filter(t, ids, count) : CF_ERR_NOT_SUPPORTED;
}

const char *transport_name(const struct transport *t)
{
	return t->ops->name;
}

enum transport_unit transport_unit(const struct transport *t)
{
	return t->ops->unit;
}

void *transport_priv(struct transport *t)
{
	return t->priv;
}
