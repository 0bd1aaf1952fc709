#!/usr/bin/env bash
# Vendor the CDN assets referenced by strawberry's GraphiQL template into
# billrun/static/graphiql/<package>@<version>/<path>, i.e. the unpkg URL path,
# so billrun.graphiql can rewrite "https://unpkg.com/" by prefix substitution.
# Re-run after upgrading strawberry-graphql. Needs npm (registry access).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
DEST="$ROOT/billrun/static/graphiql"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK" "$DEST.new"' EXIT

# One line per asset: "<package>@<version> <path inside package> <integrity>".
"$PYTHON" - >"$WORK/assets.txt" <<'EOF'
import re, sys
from strawberry.http.ides import get_graphql_ide_html

html = get_graphql_ide_html("graphiql")
tags = re.findall(r"<(?:script|link)\b[^>]*>", html)
found = 0
for tag in tags:
    m = re.search(r'(?:src|href)="https://unpkg\.com/((?:@[^/"]+/)?[^/@"]+@[^/"]+)/([^"]+)"', tag)
    if not m:
        continue
    sri = re.search(r'integrity="([^"]+)"', tag)
    if not sri:
        sys.exit(f"no integrity attribute on {tag!r}")
    print(m.group(1), m.group(2), sri.group(1))
    found += 1
if found == 0:
    sys.exit("no unpkg.com assets found in strawberry's graphiql template")
EOF

rm -rf "$DEST.new"
mkdir -p "$DEST.new"
while read -r spec path _; do
    pkgdir="$WORK/pkg/$spec"
    if [[ ! -d "$pkgdir" ]]; then
        mkdir -p "$pkgdir"
        tgz="$(cd "$WORK" && npm pack --silent "$spec" 2>/dev/null | tail -n1)"
        tar -xzf "$WORK/$tgz" -C "$pkgdir" --strip-components=1
    fi
    install -D -m 0644 "$pkgdir/$path" "$DEST.new/$spec/$path"
    echo "vendored $spec/$path"
done <"$WORK/assets.txt"

# Subresource-integrity check: vendored bytes must match the template hashes.
"$PYTHON" - "$WORK/assets.txt" "$DEST.new" <<'EOF'
import base64, hashlib, pathlib, sys

listing, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for line in listing.read_text().splitlines():
    spec, path, sri = line.split()
    algo, _, want = sri.partition("-")
    got = base64.b64encode(hashlib.new(algo, (dest / spec / path).read_bytes()).digest()).decode()
    if got != want:
        sys.exit(f"integrity mismatch for {spec}/{path}: {algo}-{got} != {sri}")
print("integrity OK for", len(listing.read_text().splitlines()), "files")
EOF

rm -rf "$DEST"
mv "$DEST.new" "$DEST"
echo "assets in $DEST"
