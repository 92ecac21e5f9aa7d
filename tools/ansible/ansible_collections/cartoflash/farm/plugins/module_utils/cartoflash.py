# SPDX-License-Identifier: GPL-3.0-or-later
# Runs cartoflash with --json and reads its stdout as the JSON contract (docs/json.md) - one
# object per line, "schema" 1 - never a sentence; shared by the modules of this collection.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

SCHEMA = 1

# Exit codes of cartoflash (README, exit codes) that the modules name.
EXIT_OK = 0
EXIT_BUSY = 75


class ContractError(Exception):
    """stdout broke the JSON contract: a line that is not an object of schema 1."""


def parse_lines(text):
    """The events of one run: every non-empty stdout line, parsed and checked."""
    events = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as e:
            raise ContractError("stdout line %d is not JSON (%s): %.200s" % (number, e, line))
        if not isinstance(event, dict) or "event" not in event:
            raise ContractError("stdout line %d is not an event object: %.200s" % (number, line))
        schema = event.get("schema")
        if schema != SCHEMA:
            raise ContractError(
                "stdout line %d carries JSON schema %r; this collection reads schema %d "
                "(docs/json.md): update the collection with cartoflash" % (number, schema, SCHEMA))
        events.append(event)
    return events


def of_kind(events, kind):
    return [e for e in events if e.get("event") == kind]


def last_of_kind(events, kind):
    found = of_kind(events, kind)
    return found[-1] if found else None


def strip_envelope(event):
    """An event without the contract's own keys, as a module returns it."""
    return dict((k, v) for k, v in event.items() if k not in ("schema", "event"))


def run(module, argv):
    """Run argv (a list, no shell); returns (rc, events, stderr). Fails the module when stdout
    breaks the contract, with what was printed."""
    # run_command itself fails the module when the binary cannot be started
    rc, out, err = module.run_command(argv, check_rc=False)
    try:
        events = parse_lines(out)
    except ContractError as e:
        module.fail_json(msg=str(e), cmd=argv, exit_code=rc, stdout=out, stderr=err)
    return rc, events, err


def first_error(events):
    """The error object a failure is reported with: the first `error` event, else the first
    failed `result`, else None."""
    for e in events:
        if e.get("event") == "error":
            return strip_envelope(e)
    for e in events:
        if e.get("event") == "result" and not e.get("ok", False):
            return strip_envelope(e)
    return None


def error_message(error, rc):
    """A one-line message for fail_json: cartoflash's own message of the error object, or one
    made of its fields; the exit code last. Nothing is read out of the text."""
    if not error:
        return "cartoflash exited %d without an error object" % rc
    if error.get("message"):
        return "%s [exit %d]" % (error["message"], rc)
    parts = [str(error[k]) for k in ("device", "stage") if error.get(k)]
    head = ": ".join(parts + [str(error.get("detail") or error.get("code") or "failed")])
    if error.get("hint"):
        head += "; %s" % error["hint"]
    return "%s [exit %d]" % (head, rc)
