# SPDX-License-Identifier: GPL-3.0-or-later
# Shared by the JSON contract tests (sourced after can_lib.bash or serial_lib.bash, which give
# ok/not_ok/skip_all and a work folder in $1): the schema of docs/json.md, and a validator.
json_lib_init() {	# json_lib_init WORKDIR
	JSON_SCHEMA=$1/schema.json
	python3 -c 'import jsonschema' 2>/dev/null || skip_all "python3-jsonschema not installed (make deps)"
	python3 - "$(dirname "${BASH_SOURCE[0]}")/../../docs/json.md" >"$JSON_SCHEMA" <<'PY' || skip_all "no schema block in docs/json.md"
import sys, re
text = open(sys.argv[1]).read()
m = re.search(r"<!-- json-schema -->\s*```json\n(.*?)\n```", text, re.S)
sys.exit(1) if not m else print(m.group(1))
PY
}

# validate NAME FILE [summary]: every line valid, schema first, optionally a summary last.
validate() {
	local out rc
	out=$(python3 - "$JSON_SCHEMA" "$2" "${3:-}" <<'PY'
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
lines = [l for l in open(sys.argv[2]) if l.strip()]
if not lines:
    print("no JSON line"); sys.exit(1)
for i, l in enumerate(lines, 1):
    try:
        o = json.loads(l)
    except ValueError as e:
        print(f"line {i} is no JSON: {e}: {l[:120]}"); sys.exit(1)
    if list(o)[:1] != ["schema"]:
        print(f"line {i}: 'schema' is not the first key"); sys.exit(1)
    if not v.is_valid(o):
        # Say why against the definition of its own event, not the whole oneOf.
        sub = dict(schema["$defs"].get(o.get("event"), {"not": {}}), **{"$defs": schema["$defs"]})
        why = [f"{list(e.path)}: {e.message[:160]}" for e in Draft202012Validator(sub).iter_errors(o)]
        print(f"line {i} ({o.get('event')}): {why[:3] or 'unknown event'} :: {l[:160]}"); sys.exit(1)
if sys.argv[3] == "summary" and json.loads(lines[-1]).get("event") != "summary":
    print("the last line is no summary"); sys.exit(1)
print(f"{len(lines)} lines valid")
PY
)
	rc=$?
	if [ $rc -eq 0 ]; then ok "$1: $out"; else not_ok "$1: $out"; fi
}

# events FILE: the event names in order, joined by spaces.
json_events() { python3 -c "import json,sys; print(' '.join(json.loads(l)['event'] for l in open(sys.argv[1]) if l.strip()))" "$1"; }
