#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The documents' links: every "](#anchor)" in README.md and docs/*.md names a heading of its
# file (GitHub's anchors: lower case, punctuation dropped, spaces to '-', repeats get -1, -2),
# every relative "](path#anchor)" a file that exists and a heading in it, and README's Contents
# links every top-level (##) section.
set -u
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
command -v python3 >/dev/null || { echo "not ok 1 - doc_links: python3 missing (tools/deps.sh installs it)"; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# one line per finding: "BAD file: text" or "OK file: count"
python3 - README.md docs/*.md >"$out" <<'EOF'
import os, re, sys

def slugs(path):
    seen, out, fence = {}, set(), False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fence = not fence
        m = None if fence else re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", m.group(2))
        s = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        k = seen.get(s, 0)
        seen[s] = k + 1
        out.add(s if k == 0 else "%s-%d" % (s, k))
    return out

def links(path):
    fence = False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fence = not fence
        if not fence:
            for m in re.finditer(r"\]\(([^)\s]+)\)", line):
                yield m.group(1)

for path in sys.argv[1:]:
    base, checked = os.path.dirname(path), 0
    for target in links(path):
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(base, file)) if file else path
        checked += 1
        if not os.path.exists(dest):
            print("BAD %s: link to %s: no such file" % (path, target))
        elif anchor and dest.endswith(".md") and anchor not in slugs(dest):
            print("BAD %s: link to %s: no such heading in %s" % (path, target, dest))
    print("OK %s: %d links" % (path, checked))

# README's Contents names every ## section after it
text = open("README.md", encoding="utf-8").read()
m = re.search(r"^## Contents\n(.*?)^## ", text, re.S | re.M)
contents = m.group(1) if m else ""
after = text[m.end():] if m else ""
missing = []
for h in re.findall(r"^## (.+)$", "## " + after, re.M):
    s = re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-")
    if "(#%s)" % s not in contents:
        missing.append(h)
print(("BAD README.md: Contents lacks " + ", ".join(missing)) if missing else
      "OK README.md: Contents links every ## section")
EOF
for f in README.md docs/*.md; do
	bad=$(grep -F "BAD $f:" "$out" | grep -v Contents)
	if grep -qF "OK $f:" "$out" && [ -z "$bad" ]; then
		ok "$f: every link resolves ($(sed -n "s|^OK $f: \([0-9]*\) links|\1|p" "$out") links)"
	else
		not_ok "$f: links that resolve to nothing"
		echo "$bad" | sed 's/^/#   /'
	fi
done
if grep -q "^OK README.md: Contents" "$out"; then ok "README's Contents links every ## section"; else
	not_ok "README's Contents links every ## section"
	grep "Contents" "$out" | sed 's/^/#   /'
fi
