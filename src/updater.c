// SPDX-License-Identifier: GPL-3.0-or-later
// The updater core: owns the object and dispatches steps to the backend's ops.
#include "updater.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "failure.h"
#include "protocol/err.h"

struct updater {
	struct updater_config cfg;
	struct device_identity identity;
	struct cf_failure failure;
	enum updater_step step;
	bool running;
	char *summary; /* heap, NULL = "" */
	_Alignas(max_align_t) unsigned char priv[];
};

struct updater *updater_new(const struct updater_config *cfg)
{
	struct updater *u = calloc(1, sizeof(*u) + cfg->ops->priv_size);

	if (!u)
		return NULL;
	u->cfg = *cfg;
	u->identity = cfg->target;
	return u;
}

void updater_free(struct updater *u)
{
	if (!u)
		return;
	if (u->cfg.ops->release)
		u->cfg.ops->release(u);
	free(u->summary);
	free(u);
}

static int (*step_op(const struct updater_ops *ops, enum updater_step step))(struct updater *)
{
	switch (step) {
	case UPDATER_IDENTIFY:
		return ops->identify;
	case UPDATER_CHECK_IMAGE:
		return ops->check_image;
	case UPDATER_WRITE:
		return ops->write;
	case UPDATER_VERIFY:
		return ops->verify;
	case UPDATER_FINISH:
		return ops->finish;
	}
	return NULL;
}

int updater_start_step(struct updater *u, enum updater_step step)
{
	int (*op)(struct updater *) = step_op(u->cfg.ops, step);
	int err;

	if (!op)
		return cf_failure_set(&u->failure, CF_ERR_NOT_SUPPORTED, updater_step_name(step),
				      "%s backend has no such step", u->cfg.ops->name);
	u->step = step;
	u->running = true;
	err = op(u);
	if (err < 0)
		u->running = false;
	return err;
}

void updater_cancel(struct updater *u)
{
	if (u->running && u->cfg.ops->cancel)
		u->cfg.ops->cancel(u);
}

void *updater_priv(struct updater *u)
{
	return u->priv;
}

const struct updater_config *updater_get_config(const struct updater *u)
{
	return &u->cfg;
}

struct device_identity *updater_identity(struct updater *u)
{
	return &u->identity;
}

struct cf_failure *updater_failure(struct updater *u)
{
	return &u->failure;
}

void updater_step_done(struct updater *u, int err)
{
	u->running = false;
	if (u->cfg.events.step_done)
		u->cfg.events.step_done(u->cfg.events.ctx, u, err);
}

void updater_progress(struct updater *u, const char *stage, size_t done, size_t total)
{
	if (u->cfg.events.progress)
		u->cfg.events.progress(u->cfg.events.ctx, u, stage, done, total);
}

const char *updater_step_name(enum updater_step step)
{
	switch (step) {
	case UPDATER_IDENTIFY:
		return "identify";
	case UPDATER_CHECK_IMAGE:
		return "check";
	case UPDATER_WRITE:
		return "write";
	case UPDATER_VERIFY:
		return "verify";
	case UPDATER_FINISH:
		return "finish";
	}
	return "unknown";
}

void updater_set_summary(struct updater *u, const char *fmt, ...)
{
	char *text = NULL;
	va_list ap;

	/* Any length (a summary names ports, buses and what to check): formatted before the
	 * old text is freed, so the new one may include updater_get_summary(u). */
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	free(u->summary);
	u->summary = text;
}

const char *updater_get_summary(const struct updater *u)
{
	return u->summary ? u->summary : "";
}
