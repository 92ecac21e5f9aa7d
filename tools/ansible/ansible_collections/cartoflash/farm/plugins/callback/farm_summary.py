# SPDX-License-Identifier: GPL-3.0-or-later
# Ansible callback: one summary of a cartoflash roll-out, per host and per probe, at the very end.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: farm_summary
type: aggregate
short_description: A summary of a cartoflash roll-out over the whole farm, per host and per probe
description:
  - Collects what the cartoflash_status and cartoflash_update modules returned on every host
    and, when the playbook ends, writes one JSON file and prints one table - also when the
    roll-out stopped early at its failure budget (max_fail_percentage), when Ansible runs no
    further play; that is why this is a callback and not a final play.
  - Every host of the plays appears - a host the roll-out never reached as C(not_reached).
requirements:
  - enable it in ansible.cfg (C(callbacks_enabled = cartoflash.farm.farm_summary))
options:
  path:
    description: Where the JSON summary is written.
    type: path
    default: cartoflash-farm.json
    env:
      - name: CARTOFLASH_FARM_SUMMARY
    ini:
      - section: cartoflash_farm
        key: summary
"""

import json
import os
import tempfile

from ansible import context
from ansible.plugins.callback import CallbackBase

SCHEMA = 1
# A host's outcome, worst first: the order the totals and the table use.
OUTCOMES = ("failed", "unreachable", "not_reached", "refused", "updated", "would_install",
            "would_update", "current")


def _module(result):
    action = result._task.action or ""
    return action.rsplit(".", 1)[-1]


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "cartoflash.farm.farm_summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.order = []
        self.hosts = {}

    def _host(self, name):
        if name not in self.hosts:
            self.order.append(name)
            self.hosts[name] = dict(host=name, outcome="not_reached", probes=[])
        return self.hosts[name]

    # every host of a play, in its order, before any batch runs
    def v2_playbook_on_play_start(self, play):
        manager = play.get_variable_manager()
        if manager is None:
            return
        names = manager.get_vars(play=play).get("ansible_play_hosts_all", [])
        limit = context.CLIARGS.get("subset")
        inventory = getattr(manager, "_inventory", None)
        if limit and inventory is not None:
            # ansible_play_hosts_all ignores --limit: a host left out is not "not reached"
            wanted = set(h.name for h in inventory.get_hosts(pattern=limit, ignore_restrictions=True))
            names = [n for n in names if n in wanted]
        for name in names:
            self._host(name)

    def _status(self, rec, res):
        rec["cartoflash_version"] = res.get("version")
        klipper = res.get("klipper") or {}
        rec["print_state"] = klipper.get("print_state")
        rec["probes_found"] = len(res.get("probes") or [])
        if res.get("printing"):
            rec["outcome"] = "refused"
            rec["reason"] = "printing %s (print_stats.state %s)" % (
                klipper.get("print_filename") or "a print", klipper.get("print_state"))

    def _update(self, rec, res, failed):
        rec["probes"] = res.get("probes") or []
        rec["exit_code"] = res.get("exit_code")
        rec["changed"] = bool(res.get("changed"))
        if res.get("busy"):
            rec["outcome"] = "refused"
            rec["reason"] = "cartoflash refused: Klipper is busy (exit 75)"
        elif failed:
            rec["outcome"] = "failed"
            rec["error"] = res.get("error")
            rec["reason"] = res.get("msg")
        elif res.get("written"):
            rec["outcome"] = "would_update" if res.get("dry_run") else "updated"
        else:
            rec["outcome"] = "current"

    def _record(self, result, failed):
        rec = self._host(result._host.get_name())
        res = result._result
        module = _module(result)
        if module == "cartoflash_status":
            self._status(rec, res)
            if failed:
                rec.update(outcome="failed", reason=res.get("msg"), error=res.get("error"))
        elif module == "cartoflash_update":
            self._update(rec, res, failed or res.get("failed", False))
        elif failed:
            rec.update(outcome="failed", reason="%s: %s" % (result._task.get_name(), res.get("msg")))
        else:
            # the role names an outcome the modules cannot see (set_fact cartoflash_farm_*)
            facts = res.get("ansible_facts") or {}
            if facts.get("cartoflash_farm_outcome"):
                rec.update(outcome=facts["cartoflash_farm_outcome"],
                           reason=facts.get("cartoflash_farm_reason"))

    def v2_runner_on_ok(self, result):
        self._record(result, False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, not ignore_errors)

    def v2_runner_on_unreachable(self, result):
        rec = self._host(result._host.get_name())
        rec.update(outcome="unreachable", reason=result._result.get("msg"))

    def _document(self):
        hosts = [self.hosts[n] for n in self.order]
        totals = dict((o, sum(1 for h in hosts if h["outcome"] == o)) for o in OUTCOMES)
        probes = [p for h in hosts for p in h["probes"]]
        return dict(
            schema=SCHEMA,
            check_mode=bool(context.CLIARGS.get("check")),
            stopped_early=totals["not_reached"] > 0 and (totals["failed"] + totals["unreachable"]) > 0,
            hosts=hosts,
            totals=totals,
            probes=dict(total=len(probes), written=sum(1 for p in probes if p.get("written")),
                        failed=sum(1 for p in probes if not p.get("ok", True))),
        )

    def _write(self, doc):
        path = os.path.abspath(self.get_option("path"))
        folder = os.path.dirname(path)
        fd, tmp = tempfile.mkstemp(prefix=".farm-", dir=folder)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")
        os.rename(tmp, path)
        return path

    def _table(self, doc, path):
        rows = [("HOST", "OUTCOME", "PROBE", "BEFORE", "AFTER", "RESULT")]
        for h in doc["hosts"]:
            if not h["probes"]:
                rows.append((h["host"], h["outcome"], "-", "", "", h.get("reason") or ""))
            for p in h["probes"]:
                wrote = ", would be written" if doc["check_mode"] else ", written"
                result = "%s (exit %s)%s" % (p.get("result"), p.get("exit_code"),
                                             wrote if p.get("written") else "")
                rows.append((h["host"], h["outcome"], p.get("probe") or p.get("uuid") or "?",
                             p.get("previous_version") or "?", p.get("version") or "?", result))
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]) - 1)]
        self._display.banner("CARTOFLASH FARM SUMMARY")
        for r in rows:
            self._display.display("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) + "  " + str(r[-1]))
        t = doc["totals"]
        self._display.display("%s; %d probes, %d written, %d failed%s -> %s" % (
            ", ".join("%d %s" % (t[o], o) for o in OUTCOMES if t[o]),
            doc["probes"]["total"], doc["probes"]["written"], doc["probes"]["failed"],
            "; the roll-out stopped early" if doc["stopped_early"] else "", path))

    def v2_playbook_on_stats(self, stats):
        doc = self._document()
        path = self._write(doc)
        self._table(doc, path)
