#!/usr/bin/env bash
# Stream benchmark (not a test): encrypts and decrypts a 1 GiB file with aes-256-gcm and
# aes-256-cbc through the stream API, reporting MB/s and peak RSS, beside `openssl speed` run on
# the same machine at the same time. Takes a few minutes; needs /usr/bin/time
# (apt-get install -y time) and openssl.
#
#   benches/stream_1gib.sh            # 1 GiB
#   SIZE_MIB=64 benches/stream_1gib.sh  # a quick run
#   FEATURES= benches/stream_1gib.sh    # the RustCrypto backend (default: aws-lc, as released)
#
# Exits non-zero if a round trip differs or a peak RSS reaches RSS_LIMIT_MIB (default 32).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${SIZE_MIB:-1024}
RSS_LIMIT_MIB=${RSS_LIMIT_MIB:-32}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time: apt-get install -y time" >&2; exit 2; }

FEATURES=${FEATURES-aws-lc}
cargo build --release --quiet --example stream_bench ${FEATURES:+--features "$FEATURES"}
BIN=target/release/examples/stream_bench

DIR=$(mktemp -d "${TMPDIR:-/tmp}/se-stream-bench.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$DIR/plain"

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "# ${SIZE_MIB} MiB of random data, uncompressed streams, default 64 KiB chunks"
status=0
measure() { # op cipher source [target]
    /usr/bin/time -v "$BIN" "$@" 2>"$DIR/time" >"$DIR/out" || { cat "$DIR/time" >&2; exit 1; }
    local rss_kib
    rss_kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$DIR/time")
    printf '%s   peak RSS %.1f MiB\n' "$(cat "$DIR/out")" "$(echo "$rss_kib / 1024" | bc -l)"
    if [ "$rss_kib" -ge $((RSS_LIMIT_MIB * 1024)) ]; then
        echo "FAIL: peak RSS reached ${RSS_LIMIT_MIB} MiB" >&2
        status=1
    fi
}
for cipher in aes-256-gcm aes-256-cbc; do
    measure encrypt-file "$cipher" "$DIR/plain" "$DIR/enc"
    measure decrypt-file "$cipher" "$DIR/enc" "$DIR/dec"
    cmp -s "$DIR/plain" "$DIR/dec" || { echo "FAIL: $cipher round trip differs" >&2; status=1; }
    rm -f "$DIR/dec"
    measure encrypt "$cipher" "$DIR/plain"
    measure decrypt "$cipher" "$DIR/enc"
    rm -f "$DIR/enc"
done

echo "# aes-256-gcm with the largest chunk size, 16 MiB (a reader and a writer hold one chunk)"
SE_BENCH_CHUNK=16777216 measure encrypt-file aes-256-gcm "$DIR/plain" "$DIR/enc"
measure decrypt-file aes-256-gcm "$DIR/enc" "$DIR/dec"
cmp -s "$DIR/plain" "$DIR/dec" || { echo "FAIL: 16 MiB chunks round trip differs" >&2; status=1; }
rm -f "$DIR/enc" "$DIR/dec"

echo "# openssl speed (16 KiB blocks, 3 s each; 1000s of bytes per second)"
for cipher in aes-256-gcm aes-256-cbc; do
    for dir in "" -decrypt; do
        line=$(openssl speed -evp "$cipher" $dir -bytes 16384 -seconds 3 2>/dev/null | tail -1)
        echo "openssl ${cipher} ${dir:-encrypt}: ${line}"
    done
done
exit $status
