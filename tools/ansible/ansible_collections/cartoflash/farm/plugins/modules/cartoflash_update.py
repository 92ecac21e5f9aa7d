#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
# Ansible module: the right firmware on every probe of a host, through `cartoflash update --json`.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cartoflash_update
short_description: Update the Cartographer probes of a printer host with cartoflash
description:
  - Runs C(cartoflash update --firmware ... --json) on the host and returns one record per
    probe (previous and new version, result, exit code), read from the JSON contract
    (docs/json.md); no sentence is parsed.
  - cartoflash chooses each probe's firmware by content and leaves a probe that already runs
    it alone, so the module is idempotent by construction - C(changed) is true only when
    firmware was written to a probe, and a second run changes nothing.
  - In check mode it runs C(--dry-run) - nothing is rebooted or written - and C(changed) says
    whether a probe would be written.
  - It fails when cartoflash exits non-zero, with the first error object (device, stage,
    code, detail, hint) and the exit code.
version_added: "0.1.0"
options:
  binary:
    description: The cartoflash program on the host.
    type: path
    default: cartoflash
  firmware:
    description: Firmware sources - directories as Cartographer ships them, firmware_list.csv, or files.
    type: list
    elements: path
    required: true
  all:
    description: Every Cartographer probe cartoflash finds on the host (C(--all)).
    type: bool
    default: false
  targets:
    description:
      - Target arguments as on the command line, e.g. C([--can, can0, --uuid, 0123456789ab]);
        with I(all) they narrow where it looks (C([--can, can0])).
    type: list
    elements: str
    default: []
  stop_klipper:
    description: Let cartoflash stop Klipper's service for the update and start it again (C(--stop-klipper)).
    type: bool
    default: true
  klipper_service:
    description: Klipper's systemd unit when cartoflash cannot tell it (C(--klipper-service)).
    type: str
  klippy_socket:
    description: Klipper's API socket; unset means cartoflash's default, empty asks no Klipper.
    type: str
  allow_unknown:
    description: Write a build that is no known release (C(--allow-unknown), rule R7).
    type: bool
    default: false
  extra_args:
    description: More arguments for C(cartoflash update), as given.
    type: list
    elements: str
    default: []
notes:
  - A printer that prints is refused by cartoflash itself (exit 75, code C(busy)); the result
    then has C(busy) true so a play can tell a printer that was printing from a failed update.
author: cartoflash authors
"""

EXAMPLES = r"""
- name: the newest matching release on every probe of the printer
  cartoflash.farm.cartoflash_update:
    firmware: [/opt/cartographer-firmware]
    all: true
  register: update
"""

RETURN = r"""
probes:
  description: One record per probe, from cartoflash's C(update_plan) and C(result) events.
  returned: always
  type: list
  elements: dict
  contains:
    probe: {description: the probe as the plan names it (CAN UUID or serial), type: str}
    verdict: {description: "the plan's verdict: flash, current, ahead, none", type: str}
    previous_version: {description: the firmware it ran before (the plan's runs), type: str}
    version: {description: the firmware it runs now (in check mode - would run); null after a failed write, type: str}
    result: {description: the result code of a flashed probe, else the verdict, type: str}
    ok: {description: the probe ended well, type: bool}
    exit_code: {description: the exit code for this probe, type: int}
    written: {description: firmware was written to it (in check mode - would be), type: bool}
    file: {description: the chosen build, type: str}
written:
  description: How many probes were written (in check mode - would be).
  returned: always
  type: int
exit_code:
  description: cartoflash's exit code (the worst probe's).
  returned: always
  type: int
busy:
  description: cartoflash refused because Klipper prints (exit 75, code busy).
  returned: always
  type: bool
error:
  description: The first error object (an C(error) event or a failed C(result)), on failure.
  returned: failure
  type: dict
summary:
  description: cartoflash's C(summary) event.
  returned: always
  type: dict
ansible_facts:
  description: C(cartoflash_update) with probes, written, exit_code and summary.
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cartoflash.farm.plugins.module_utils import cartoflash as cf

# What a probe record keeps of a result event (docs/json.md), besides the fields it computes.
KEEP = ("device", "uuid", "serial", "interface", "tty", "usb_path", "mcu", "mode", "seconds",
        "image", "sha256", "known_release", "stage", "detail", "hint")


def update_argv(p, check_mode):
    argv = [p["binary"], "update"]
    for source in p["firmware"]:
        argv += ["--firmware", source]
    if p["all"]:
        argv.append("--all")
    argv += list(p["targets"])
    if p["stop_klipper"]:
        argv.append("--stop-klipper")
    if p["klipper_service"]:
        argv += ["--klipper-service", p["klipper_service"]]
    if p["klippy_socket"] is not None:
        argv += ["--klippy-socket", p["klippy_socket"]]
    if p["allow_unknown"]:
        argv.append("--allow-unknown")
    argv += list(p["extra_args"])
    if check_mode:
        argv.append("--dry-run")
    return argv + ["--json"]


def result_of(plan, results):
    """The result event of the probe a plan names (its CAN UUID or serial), or None."""
    for r in results:
        if plan.get("probe") in (r.get("uuid"), r.get("serial")):
            return r
    return None


def probe_record(plan, result, stages, check_mode, rc):
    """One probe: its update_plan event (what it ran, the verdict, the chosen build) and, when
    it was flashed, its result event and whether a write stage was reported for it."""
    verdict = plan.get("verdict")
    rec = dict(probe=plan.get("probe"), link=plan.get("link"), verdict=verdict,
               reason=plan.get("reason"), file=plan.get("file"),
               previous_version=plan.get("runs"))
    if result is None:
        # not flashed: current, ahead, no build - or, in a dry run, what would be written
        would = check_mode and verdict == "flash"
        rec.update(written=would, ok=verdict != "none", result=verdict,
                   version=plan.get("version") if would else plan.get("runs"),
                   exit_code=0 if verdict != "none" else rc)
        return rec
    rec.update((k, result[k]) for k in KEEP if k in result)
    rec.update(ok=bool(result.get("ok")), result=result.get("code"),
               exit_code=result.get("exit_code"),
               written=plan.get("probe") in stages,
               version=plan.get("version") if result.get("ok") else None)
    return rec


def written_probes(events, plans):
    """The probes a write stage was reported for. A stage's device names the probe with where
    it is now ("probe UUID (bus node N)"), so it is matched on the probe's own name."""
    names = set()
    for e in cf.of_kind(events, "stage"):
        if e.get("stage") != "write":
            continue
        words = str(e.get("device", "")).replace("(", " ").split()
        names.update(p.get("probe") for p in plans if p.get("probe") in words)
    return names


def probes_of(events, check_mode, rc):
    plans = cf.of_kind(events, "update_plan")
    stages = written_probes(events, plans)
    results = cf.of_kind(events, "result")
    return [probe_record(p, result_of(p, results), stages, check_mode, rc)
            for p in plans]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            binary=dict(type="path", default="cartoflash"),
            firmware=dict(type="list", elements="path", required=True),
            all=dict(type="bool", default=False),
            targets=dict(type="list", elements="str", default=[]),
            stop_klipper=dict(type="bool", default=True),
            klipper_service=dict(type="str"),
            klippy_socket=dict(type="str"),
            allow_unknown=dict(type="bool", default=False),
            extra_args=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    if not module.params["all"] and not module.params["targets"]:
        module.fail_json(msg="name the probes: all=true or targets (e.g. [--can, can0, --uuid, UUID])")
    argv = update_argv(module.params, module.check_mode)
    rc, events, err = cf.run(module, argv)
    probes = probes_of(events, module.check_mode, rc)
    summary = cf.last_of_kind(events, "summary")
    error = cf.first_error(events)
    facts = dict(
        probes=probes,
        written=sum(1 for p in probes if p["written"]),
        exit_code=rc,
        busy=rc == cf.EXIT_BUSY and bool(error) and error.get("code") == "busy",
        summary=cf.strip_envelope(summary) if summary else None,
        dry_run=module.check_mode,
    )
    # a write that failed half-way changed the probe too: changed stays true on failure
    changed = facts["written"] > 0
    if rc != cf.EXIT_OK:
        module.fail_json(msg=cf.error_message(error, rc), error=error, changed=changed, cmd=argv,
                         stderr=err, **facts)
    module.exit_json(changed=changed, cmd=argv, ansible_facts=dict(cartoflash_update=facts),
                     **facts)


if __name__ == "__main__":
    main()
