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

root=$(pwd)
work=$(mktemp -d)
chmod 755 "$work"   # the PostgreSQL server runs as the postgres user, in $work/servers
on_exit "rm -rf '$work'"
if [ -z "${SE_BENCH_POSTGRES_URL:-}" ]; then
  on_exit "'$root/scripts/db-servers' stop '$work/servers'"
  scripts/db-servers start "$work/servers" >/dev/null
  . "$work/servers/env"
  SE_BENCH_POSTGRES_URL=$SE_TEST_POSTGRES_URL
fi
url=$SE_BENCH_POSTGRES_URL
sql() { psql -qAt "$url" -c "$1"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

cd "$work"
export HOME=$work SYMMETRIC_ENCRYPTION_ENV=production
# production: its keys are in key files, which --rotate-keys rotates.
"$BIN" --generate --environments production --key-path keys >/dev/null 2>&1
# One 32-byte value at version 1 (deterministic iv, the default) for every row: each row costs
# the same decryption, iv derivation and encryption as distinct values would.
value=$(echo "0123456789abcdef0123456789abcdef" | "$BIN" --encrypt --prompt --no-compress)
"$BIN" --rotate-keys >/dev/null 2>&1

sql "DROP TABLE IF EXISTS bench" 2>/dev/null
sql "CREATE TABLE bench (id BIGINT PRIMARY KEY, c TEXT)"
sql "INSERT INTO bench SELECT g, '$value' FROM generate_series(1, $ROWS) g"
sql "VACUUM ANALYZE bench"

declare -A took=()
run() { # workers target-version label
  sql "VACUUM bench"
  local t0 t1
  t0=$(now)
  /usr/bin/time -v -o "$work/time" "$BIN" --db "$url" --re-encrypt-columns bench.c \
    --workers "$1" --key-version "$2" --batch-size "${BATCH:-1000}" >"$work/out"
  t1=$(now)
  took[$3]=$(secs "$t0" "$t1")
  local rss
  rss=$(awk -F: '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$work/time")
  cpu=$(awk -F: '/User time|System time/ { t += $2 } END { printf "%.1f", t }' "$work/time")
  printf '%-46s %8ss  %9.0f rows/s  CPU %5ss  peak RSS %6s MiB\n' "$3" "${took[$3]}" \
    "$(awk -v n="$ROWS" -v t="${took[$3]}" 'BEGIN { print n / t }')" "$cpu" "$rss"
  grep -q " $ROWS re-encrypted" "$work/out" || { cat "$work/out"; echo "not every row was re-encrypted" >&2; exit 1; }
}

echo "PostgreSQL $(sql 'SHOW server_version'), $ROWS rows of 32-byte values (TEXT, $(sql "SELECT length(c) FROM bench LIMIT 1") characters stored)"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
run 1 2 "re-encrypt v1 -> v2, 1 worker (warm-up)"
run 1 1 "re-encrypt v2 -> v1, 1 worker"
run 2 2 "re-encrypt v1 -> v2, 2 workers"
sql "VACUUM bench"
t0=$(now)
sql "UPDATE bench SET c = c || ''"
t1=$(now)
base=$(secs "$t0" "$t1")
printf '%-46s %8ss  %9.0f rows/s\n' "UPDATE bench SET c = c || '' (one statement)" "$base" \
  "$(awk -v n="$ROWS" -v t="$base" 'BEGIN { print n / t }')"
for w in "re-encrypt v2 -> v1, 1 worker" "re-encrypt v1 -> v2, 2 workers"; do
  printf '%-46s %8sx the UPDATE (goal: at most 2x)\n' "$w" \
    "$(awk -v a="${took[$w]}" -v b="$base" 'BEGIN { printf "%.2f", a / b }')"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
sql "DROP TABLE bench"
