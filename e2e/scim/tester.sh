#!/usr/bin/env bash
# scim2-tester (through scim2-cli, PyPI) against the real binary: discovery, CRUD, PATCH of
# every attribute our Schemas document; any ERROR fails.
#   bash e2e/scim/tester.sh     (API_BIN=path/to/api, E2E_DATABASE_URL=postgres://… or SQLite)
set -euo pipefail
api_bin=${API_BIN:-target/debug/api}
work=$(mktemp -d)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
public=$(port); admin=$(port)
cat > "$work/config.yaml" <<YAML
{"server": {"public": {"address": "127.0.0.1:$public", "base_url": "http://127.0.0.1:$public"},
            "admin": {"address": "127.0.0.1:$admin"}},
 "database": {"url": "${E2E_DATABASE_URL:-sqlite://$work/scim.sqlite3}"},
 "secrets": {"keys": ["scim-tester-secret-0123456789abcdef"]},
 "scim": {"enabled": true}, "log": {"level": "warn"}}
YAML
"$api_bin" --config "$work/config.yaml" serve &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$public/health/ready" >/dev/null && break
  sleep 0.1
done
token=$(curl -sf -X POST "http://127.0.0.1:$admin/scim/clients" -H 'content-type: application/json' \
  -d '{"name":"scim2-tester"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
SCIM_CLI_HEADERS="Authorization: Bearer $token" scim2 --url "http://127.0.0.1:$public/scim/v2" test > "$work/out.txt" 2>&1 || true
passed=$(grep -c '^SUCCESS' "$work/out.txt" || true)
failed=$(grep -c '^ERROR' "$work/out.txt" || true)
echo "scim2-tester: $passed checks passed, $failed failed"
if [ "$failed" -ne 0 ] || [ "$passed" -lt 60 ]; then
  cat "$work/out.txt"
  exit 1
fi
