#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
# Ansible module: what a printer's probes run and whether Klipper prints, from `cartoflash status --json`.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cartoflash_status
short_description: Every Cartographer probe of a printer host, and whether Klipper prints
description:
  - Runs C(cartoflash status --json) on the host and returns its events as structured data
    (docs/json.md) - Klipper's state and print state, every probe with what it runs, the buses.
  - C(status) never reboots a probe and never enters a bootloader, so the module changes
    nothing and runs the same in check mode.
  - A role uses C(printing) to leave a printer that prints alone before any update.
version_added: "0.1.0"
options:
  binary:
    description: The cartoflash program on the host.
    type: path
    default: cartoflash
  can:
    description: CAN interfaces (or C(sim:PATH) buses) to ask besides those that are up.
    type: list
    elements: str
    default: []
  klippy_socket:
    description:
      - Klipper's API socket. Unset means cartoflash's default (the invoking user's
        C(~/printer_data/comms/klippy.sock)); an empty string asks no Klipper.
    type: str
  klipper_config:
    description: Klipper config files that name probes.
    type: list
    elements: path
    default: []
  usb:
    description: Also list USB and ROM DFU devices.
    type: bool
    default: true
  extra_args:
    description: More arguments for C(cartoflash status), as given.
    type: list
    elements: str
    default: []
author: cartoflash authors
"""

EXAMPLES = r"""
- name: what runs on this printer
  cartoflash.farm.cartoflash_status:
    can: [can0]
  register: status

- name: leave a printer that prints alone
  ansible.builtin.meta: end_host
  when: status.printing
"""

RETURN = r"""
printing:
  description: Klipper prints or is paused (its print_stats.state), or is busy.
  returned: always
  type: bool
print_state:
  description: Klipper's print_stats.state, when Klipper answered.
  returned: always
  type: str
klipper:
  description: The C(klipper) event (state, print state, file, pid), null when no Klipper answered.
  returned: always
  type: dict
probes:
  description: One C(probe) event per probe (name, link, mode, uuid, firmware, held_by ...).
  returned: always
  type: list
  elements: dict
buses:
  description: One C(bus) event per CAN interface asked.
  returned: always
  type: list
  elements: dict
version:
  description: The version of the cartoflash binary on the host (C(--version --json)).
  returned: always
  type: str
exit_code:
  description: cartoflash's exit code.
  returned: always
  type: int
ansible_facts:
  description: C(cartoflash_status) with the same fields, for later plays.
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cartoflash.farm.plugins.module_utils import cartoflash as cf


def status_argv(p):
    argv = [p["binary"], "status"]
    for iface in p["can"]:
        argv += ["--can", iface]
    if p["klippy_socket"] is not None:
        argv += ["--klippy-socket", p["klippy_socket"]]
    for path in p["klipper_config"]:
        argv += ["--klipper-config", path]
    if not p["usb"]:
        argv.append("--no-usb")
    return argv + list(p["extra_args"]) + ["--json"]


def binary_version(module, binary):
    rc, events, err = cf.run(module, [binary, "--version", "--json"])
    line = cf.last_of_kind(events, "version")
    if rc != 0 or line is None:
        module.fail_json(msg="%s --version --json gave no version event (exit %d): %s"
                         % (binary, rc, err.strip()), exit_code=rc)
    return line["version"]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            binary=dict(type="path", default="cartoflash"),
            can=dict(type="list", elements="str", default=[]),
            klippy_socket=dict(type="str"),
            klipper_config=dict(type="list", elements="path", default=[]),
            usb=dict(type="bool", default=True),
            extra_args=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    version = binary_version(module, module.params["binary"])
    argv = status_argv(module.params)
    rc, events, err = cf.run(module, argv)
    klipper = cf.last_of_kind(events, "klipper")
    facts = dict(
        version=version,
        klipper=cf.strip_envelope(klipper) if klipper else None,
        printing=bool(klipper and klipper.get("printing")),
        print_state=(klipper or {}).get("print_state"),
        probes=[cf.strip_envelope(e) for e in cf.of_kind(events, "probe")],
        buses=[cf.strip_envelope(e) for e in cf.of_kind(events, "bus")],
        exit_code=rc,
    )
    if rc != cf.EXIT_OK:
        error = cf.first_error(events)
        module.fail_json(msg=cf.error_message(error, rc), error=error, cmd=argv, stderr=err,
                         **facts)
    module.exit_json(changed=False, cmd=argv, ansible_facts=dict(cartoflash_status=facts),
                     **facts)


if __name__ == "__main__":
    main()
