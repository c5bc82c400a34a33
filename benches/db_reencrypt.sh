#!/usr/bin/env bash
# Re-encrypting a PostgreSQL column: 1,000,000 rows of 32-byte values, with 1 and 2 workers,
# beside PostgreSQL's own rewrite of the same column in one statement
# (UPDATE t SET c = c || ''), in the same run; peak RSS of each re-encryption.
# Not a test: run by hand, on a quiet machine, and read the figures.
#
#   benches/db_reencrypt.sh                 # release binary (cargo build --release --features db)
#   BIN=target/debug/symmetric-encryption benches/db_reencrypt.sh
#   ROWS=100000 benches/db_reencrypt.sh     # a smaller table
#   SE_BENCH_POSTGRES_URL=postgres://... benches/db_reencrypt.sh   # an existing server
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_apt time
BIN=${BIN:-target/release/symmetric-encryption}
BIN=$(realpath "$BIN")
ROWS=${ROWS:-1000000}
[ -x "$BIN" ] || { echo "no $BIN: build it with cargo build --release --features db" >&2; exit 2; }

work=$(mktemp -d)
on_exit "rm -rf '$work'"
if [ -z "${SE_BENCH_POSTGRES_URL:-}" ]; then
  on_exit "scripts/db-servers stop '$work/servers'"
  scripts/db-servers start "$work/servers" >/dev/null
  . "$work/servers/env"
  SE_BENCH_POSTGRES_URL=$SE_TEST_POSTGRES_URL
fi
url=$SE_BENCH_POSTGRES_URL
sql() { psql -qAt "$url" -c "$1"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

cd "$work"
export HOME=$work
"$BIN" --generate --environments development --key-path keys >/dev/null
# One value at version 1 for every row (re-encrypting gives each its own random iv).
value=$(echo "0123456789abcdef0123456789abcdef" | "$BIN" --encrypt --prompt --no-compress)
"$BIN" --rotate-keys >/dev/null

sql "DROP TABLE IF EXISTS bench; CREATE TABLE bench (id BIGINT PRIMARY KEY, c TEXT)"
sql "INSERT INTO bench SELECT g, '$value' FROM generate_series(1, $ROWS) g"
sql "VACUUM ANALYZE bench"

run() { # workers target-version label
  sql "VACUUM bench"
  local t0 t1
  t0=$(now)
  /usr/bin/time -f "%M" -o "$work/rss" "$BIN" --db "$url" --re-encrypt-columns bench.c \
    --workers "$1" --key-version "$2" --batch-size 1000 >"$work/out"
  t1=$(now)
  printf '%-44s %8ss  peak RSS %6.1f MiB\n' "$3" "$(secs "$t0" "$t1")" \
    "$(awk '{ print $1 / 1024 }' "$work/rss")"
}

echo "PostgreSQL $(sql 'SHOW server_version'), $ROWS rows, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
run 1 2 "re-encrypt v1 -> v2, 1 worker (warm-up)"
run 1 1 "re-encrypt v2 -> v1, 1 worker"
run 2 2 "re-encrypt v1 -> v2, 2 workers"
sql "VACUUM bench"
t0=$(now)
sql "UPDATE bench SET c = c || ''"
t1=$(now)
printf '%-44s %8ss\n' "UPDATE bench SET c = c || '' (one statement)" "$(secs "$t0" "$t1")"
cat "$work/out"
sql "DROP TABLE bench"
