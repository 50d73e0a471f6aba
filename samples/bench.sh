#!/usr/bin/env bash
# Ingest benchmark: generates a realistic corpus (S3 layout) and measures, on
# the same files, the gunzip-only floor, trailsift's decoder alone (events
# read and discarded), DuckDB alone writing the stored events again (its
# own share of any ingest), trailsift ingest (time, events/s,
# peak RSS, database size), trailsift ingest --parquet (time, events/s, peak
# RSS, dataset size), the rule set over both, and DuckDB's own read_json as a
# baseline.
#
#   bash samples/bench.sh                  # 1.25M events, ~6,900 files
#   EVENTS=200000 bash samples/bench.sh    # smaller
#   KEEP=1 ...                             # keep the corpus and databases
#   NATIVE=0 ...                           # skip the (slow) read_json baseline
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-1250000}
OUT=${OUT:-bench-out}
mkdir -p "$OUT"
CORPUS="$OUT/corpus-$EVENTS"

go build -o "$OUT/trailsift" ./cmd/trailsift
go build -o "$OUT/benchfloor" ./samples/internal/benchfloor

if [ ! -d "$CORPUS/AWSLogs" ]; then
  rm -rf "$CORPUS"
  "$OUT/trailsift" samples generate --out "$CORPUS" --events "$EVENTS" --accounts 2 --regions 3 --days 4 --seed 42
fi
gz=$(du -sb "$CORPUS/AWSLogs" | cut -f1)
files=$(find "$CORPUS/AWSLogs" -name '*.json.gz' | wc -l)
echo "corpus: $EVENTS events, $files files, $((gz / 1000000)) MB gzipped, $(nproc) cores"

# Warm the page cache so every contender reads from memory.
cat $(find "$CORPUS/AWSLogs" -name '*.json.gz') > /dev/null

"$OUT/benchfloor" gunzip "$CORPUS/AWSLogs"
"$OUT/benchfloor" decode "$CORPUS/AWSLogs"

rm -f "$OUT/bench.duckdb" "$OUT/bench.duckdb.wal"
/usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$OUT/trailsift" ingest -q --json --db "$OUT/bench.duckdb" "$CORPUS/AWSLogs" > "$OUT/summary.json"
read -r secs rss < "$OUT/time.txt"
dbsize=$(stat -c %s "$OUT/bench.duckdb")
stored=$(grep -o '"events_new": [0-9]*' "$OUT/summary.json" | grep -o '[0-9]*$')
echo "trailsift ingest: $stored events in ${secs}s ($(awk -v n="$stored" -v s="$secs" 'BEGIN{printf "%.0f", n/s}') events/s), peak RSS $((rss / 1024)) MiB, database $((dbsize / 1000000)) MB ($(awk -v d="$dbsize" -v g="$gz" 'BEGIN{printf "%.2f", d/g}')x the gzipped input)"

"$OUT/benchfloor" store "$OUT/bench.duckdb" "$OUT/copy.duckdb"
rm -f "$OUT/copy.duckdb" "$OUT/copy.duckdb.wal"

rm -rf "$OUT/lake"
/usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$OUT/trailsift" ingest -q --json --parquet "$OUT/lake" "$CORPUS/AWSLogs" > "$OUT/summary.json"
read -r psecs prss < "$OUT/time.txt"
lakesize=$(du -sb "$OUT/lake" | cut -f1)
pstored=$(grep -o '"events_new": [0-9]*' "$OUT/summary.json" | grep -o '[0-9]*$')
parts=$(find "$OUT/lake" -name '*.parquet' -path '*date=*' | wc -l)
echo "trailsift ingest --parquet: $pstored events in ${psecs}s ($(awk -v n="$pstored" -v s="$psecs" 'BEGIN{printf "%.0f", n/s}') events/s), peak RSS $((prss / 1024)) MiB, dataset $((lakesize / 1000000)) MB in $parts files ($(awk -v d="$lakesize" -v g="$gz" 'BEGIN{printf "%.2f", d/g}')x the gzipped input)"

for target in "--db $OUT/bench.duckdb" "--parquet $OUT/lake"; do
  /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$OUT/trailsift" detect -q --format jsonl $target > "$OUT/findings.jsonl"
  read -r dsecs drss < "$OUT/time.txt"
  echo "trailsift detect ${target%% *}: $(wc -l < "$OUT/findings.jsonl") findings from all rules in ${dsecs}s, peak RSS $((drss / 1024)) MiB"
done

if [ "${NATIVE:-1}" = 0 ]; then
  [ -n "${KEEP:-}" ] || rm -rf "$OUT/bench.duckdb" "$OUT/lake" "$OUT"/*.wal
  exit 0
fi
/usr/bin/time -f "%e %M" -o "$OUT/time2.txt" "$OUT/benchfloor" duckdb "$CORPUS/AWSLogs" "$OUT/native.duckdb"
read -r secs2 rss2 < "$OUT/time2.txt"
echo "duckdb read_json peak RSS $((rss2 / 1024)) MiB"

if [ -z "${KEEP:-}" ]; then
  rm -rf "$OUT/bench.duckdb" "$OUT/native.duckdb" "$OUT/lake" "$OUT"/*.wal
fi
