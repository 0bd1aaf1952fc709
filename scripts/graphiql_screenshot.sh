#!/usr/bin/env bash
# Run the offline GraphiQL check and write docs/graphiql.png (see scripts/graphiql_screenshot.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v chromium >/dev/null || { echo "install chromium: apt-get install -y chromium"; exit 2; }
.venv/bin/python scripts/graphiql_screenshot.py docs/graphiql.png
