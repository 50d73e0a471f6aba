#!/usr/bin/env bash
# Ingest benchmark (issue 15). On one generated corpus (S3 layout) it
# measures, on the same files: the gunzip-only floor, trailsift's decoder
# alone (events read and discarded), DuckDB alone writing the stored events
# again, trailsift ingest --db and --parquet, the sessions build and its
# share of ingest --db (the target is at most 10%), trace on both (time, events/s, times the
# gunzip floor, peak RSS, peak extra disk during the run, store size), the
# rule set over both (five runs each, by their medians), and DuckDB's own read_json into typed columns plus the
# raw event (the baseline). Then the store size against the gzipped input
# on several corpus sizes and partition counts; a bucket of small files
# (many regions and days, a few events per file, as most real buckets
# are): the ingests against its own gunzip floor, and the rules over both
# stores; and with SCALE=1 a 10M-event corpus against the main one (cost
# per event, peak RSS).
#
#   bash samples/bench.sh                  # 1.25M events, ~6,900 files
#   EVENTS=200000 bash samples/bench.sh    # smaller
#   SCALE=1 ...                            # also generate and ingest 10M events
#   SCALE_EVENTS=2500000 SCALE=1 ...       # a smaller scale run
#   SHAPES="20000:2:2:4 300000:2:2:4" ...  # store-size corpora, events:accounts:regions:days
#   SHAPES= ...                            # skip the store-size check
#   BUCKET=100000:2:16:30 ...              # the small-files corpus, events:accounts:regions:days
#   BUCKET= ...                            # skip it
#   KEEP=1 ...                             # keep the corpora and stores
#   NATIVE=0 ...                           # skip the (slow) read_json baseline
#
# Ratios within one run hold; absolute figures move with the machine and
# whatever else runs on it.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-1250000}
SCALE_EVENTS=${SCALE_EVENTS:-10000000}
SHAPES=${SHAPES-"20000:2:2:4 300000:2:2:4 300000:4:3:4"}
BUCKET=${BUCKET-"300000:3:16:30"}
OUT=${OUT:-bench-out}
mkdir -p "$OUT"

go build -tags duckdb_arrow -o "$OUT/trailsift" ./cmd/trailsift   # as the Makefile builds it
go build -o "$OUT/benchfloor" ./samples/internal/benchfloor

# corpus EVENTS ACCOUNTS REGIONS DAYS: generates (once) and prints its folder.
corpus() {
  local dir="$OUT/corpus-$1-$2x$3x$4"
  if [ ! -d "$dir/AWSLogs" ]; then
    rm -rf "$dir"
    "$OUT/trailsift" samples generate --out "$dir" --events "$1" --accounts "$2" --regions "$3" --days "$4" --seed 42 >&2
  fi
  # Warm the page cache so every contender reads from memory.
  find "$dir/AWSLogs" -name '*.json.gz' -exec cat {} + > /dev/null
  echo "$dir"
}

# peakdisk PID PATH...: the largest total size of PATHs while PID runs, in
# bytes, polled every 0.2 s (so a shorter peak can be missed).
peakdisk() {
  local pid=$1 peak=0 now
  shift
  while kill -0 "$pid" 2> /dev/null; do
    now=$(du -sbc "$@" 2> /dev/null | tail -1 | cut -f1 || true)
    [ "${now:-0}" -gt "$peak" ] && peak=$now
    sleep 0.2
  done
  echo "$peak"
}

# ingest MODE TARGET CORPUS [again]: runs trailsift ingest --MODE into
# TARGET (a fresh one unless "again"), and sets secs, cpu (user+sys
# seconds), rss (KiB), stored, unchanged (files left as already loaded),
# lineage (the seconds the run's summary gives its sessions build), size
# (bytes) and peak (bytes on disk, DuckDB's spill folder included).
ingest() {
  local mode=$1 target=$2 dir=$3
  [ "${4:-}" = again ] || rm -rf "$target" "$target.wal" "$target.staging" "$target.manifest" "$target.tmp"
  /usr/bin/time -f "%e %M %U %S" -o "$OUT/time.txt" "$OUT/trailsift" ingest -q --json "--$mode" "$target" "$dir/AWSLogs" > "$OUT/summary.json" &
  local pid=$! user sys
  peak=$(peakdisk "$pid" "$target" "$target.wal" "$target.staging" "$target.manifest" "$target.tmp")
  wait "$pid"
  read -r secs rss user sys < "$OUT/time.txt"
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.1f", u+s}')
  size=$(du -sb "$target" | cut -f1)
  stored=$(grep -o '"events_new": [0-9]*' "$OUT/summary.json" | grep -o '[0-9]*$')
  unchanged=$(grep -o '"files_unchanged": [0-9]*' "$OUT/summary.json" | grep -o '[0-9]*$')
  lineage=$(grep -o '"lineage": [0-9.e+-]*' "$OUT/summary.json" | grep -o '[0-9.e+-]*$')
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }

# a store's size against the gzipped input: to three places, which a store
# at 1.001x needs, and said when it is larger
sizeratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3fx the gzipped input%s", a/b, (a > b) ? ", LARGER than it" : ""}'; }

# median of its arguments
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

# detects LABEL STORE DATASET [ARGS...]: detect --db STORE and detect
# --parquet DATASET (with ARGS), five times each, interleaved: a run takes
# a fraction of a second and moves by a tenth from one to the next, so
# each prints its median (and the highest peak RSS), and their ratio is
# that of the medians. Sets dsecs[--db] and dsecs[--parquet].
declare -A dsecs
detects() {
  local label=$1 db=$2 pq=$3 round mode target s drss
  shift 3
  local -A times rsss
  for round in 1 2 3 4 5; do
    for mode in db parquet; do
      target=$db
      [ "$mode" = parquet ] && target=$pq
      /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$OUT/trailsift" detect -q --format jsonl "--$mode" "$target" "$@" > "$OUT/findings-$mode.jsonl"
      read -r s drss < "$OUT/time.txt"
      times[$mode]="${times[$mode]:-} $s"
      if [ "$drss" -gt "${rsss[$mode]:-0}" ]; then rsss[$mode]=$drss; fi
    done
  done
  for mode in db parquet; do
    # shellcheck disable=SC2086 # the times are split on purpose
    dsecs[--$mode]=$(median ${times[$mode]})
    echo "${label}detect --$mode${*:+ $*}: $(wc -l < "$OUT/findings-$mode.jsonl") findings in ${dsecs[--$mode]}s (median of${times[$mode]}), peak RSS $((rsss[$mode] / 1024)) MiB"
  done
  local same="the same findings"
  cmp -s "$OUT/findings-db.jsonl" "$OUT/findings-parquet.jsonl" || same="DIFFERENT findings"
  echo "${label}detect --parquet / detect --db${*:+ $*}: $(ratio "${dsecs[--parquet]}" "${dsecs[--db]}")x, $same"
  rm -f "$OUT/findings-db.jsonl" "$OUT/findings-parquet.jsonl"
}

CORPUS=$(corpus "$EVENTS" 2 3 4)
gz=$(du -sb "$CORPUS/AWSLogs" | cut -f1)
files=$(find "$CORPUS/AWSLogs" -name '*.json.gz' | wc -l)
echo "corpus: $EVENTS events, $files files, $((gz / 1000000)) MB gzipped, $(nproc) cores"

floorline=$("$OUT/benchfloor" gunzip "$CORPUS/AWSLogs")
echo "$floorline"
floor=$(echo "$floorline" | grep -o 'in [0-9.]*s' | grep -o '[0-9.]*')
"$OUT/benchfloor" decode "$CORPUS/AWSLogs"

ingest db "$OUT/bench.duckdb" "$CORPUS"
dbsecs=$secs dbstored=$stored dbcpu=$cpu dbrss=$rss
echo "trailsift ingest --db: $stored events in ${secs}s, ${cpu} CPU-s ($(awk -v n="$stored" -v s="$secs" 'BEGIN{printf "%.0f", n/s}') events/s, $(ratio "$secs" "$floor")x the gunzip floor), peak RSS $((rss / 1024)) MiB, database $((size / 1000000)) MB ($(sizeratio "$size" "$gz")), peak disk $((peak / 1000000)) MB ($(ratio "$peak" "$size")x the database)"

# The sessions build (issue 17) ends every load that adds events: timed
# alone on the finished store, and inside the ingests, whose summaries
# give its time (phase_seconds.lineage): its share is that time against
# the rest of the same run, over the two ingests with it. What deferring
# it (TRAILSIFT_DEFER_SESSIONS) saves, from two more ingests interleaved
# with the second, is printed too: that difference of whole runs moves by
# a second or so from run to run, as much as the build itself.
sessline=$("$OUT/benchfloor" sessions "$OUT/bench.duckdb")
withs="$secs" withc="$cpu" withl="$lineage" withouts=0 withoutc=0
for run in 1 2; do
  TRAILSIFT_DEFER_SESSIONS=1 ingest db "$OUT/ab.duckdb" "$CORPUS"
  withouts=$(awk -v a="$withouts" -v b="$secs" 'BEGIN{print a+b}') withoutc=$(awk -v a="$withoutc" -v b="$cpu" 'BEGIN{print a+b}')
  if [ "$run" = 1 ]; then
    ingest db "$OUT/ab.duckdb" "$CORPUS"
    withs=$(awk -v a="$withs" -v b="$secs" 'BEGIN{print a+b}') withc=$(awk -v a="$withc" -v b="$cpu" 'BEGIN{print a+b}')
    withl=$(awk -v a="$withl" -v b="$lineage" 'BEGIN{print a+b}')
  fi
done
rm -f "$OUT/ab.duckdb" "$OUT/ab.duckdb.wal"
echo "$sessline; inside ingest --db it took ${withl}s of ${withs}s over 2 runs: it adds $(awk -v l="$withl" -v w="$withs" 'BEGIN{printf "%.1f", 100*l/(w-l)}')% to the rest of the run (target: at most 10%)"
echo "sessions, deferred: ingest --db with the build ${withs}s, ${withc} CPU-s over 2 runs, without it ${withouts}s, ${withoutc} CPU-s over 2: $(awk -v w="$withs" -v o="$withouts" 'BEGIN{printf "%.1f", 100*(w-o)/o}')% wall, $(awk -v w="$withc" -v o="$withoutc" 'BEGIN{printf "%.1f", 100*(w-o)/o}')% CPU"

"$OUT/benchfloor" store "$OUT/bench.duckdb" "$OUT/copy.duckdb"
rm -f "$OUT/copy.duckdb" "$OUT/copy.duckdb.wal"

ingest parquet "$OUT/lake" "$CORPUS"
psecs=$secs pcpu=$cpu prss=$rss
parts=$(find "$OUT/lake" -name '*.parquet' -path '*date=*' | wc -l)
echo "trailsift ingest --parquet: $stored events in ${secs}s, ${cpu} CPU-s ($(awk -v n="$stored" -v s="$secs" 'BEGIN{printf "%.0f", n/s}') events/s, $(ratio "$secs" "$floor")x the gunzip floor), peak RSS $((rss / 1024)) MiB, dataset $((size / 1000000)) MB in $parts files ($(sizeratio "$size" "$gz")), peak disk $((peak / 1000000)) MB ($(ratio "$peak" "$size")x the dataset)"

# trace (issue 17, target: under a second) on a busy key, the role with the
# most sessions, an AssumeRole event and a rule's findings.
sql() { "$OUT/trailsift" query --db "$OUT/bench.duckdb" --format csv -e "$1" | tail -n +2; }
key=$(sql "SELECT session_id FROM sessions ORDER BY events DESC, session_id LIMIT 1")
role=$(sql "SELECT role_arn FROM sessions WHERE role_arn IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
event=$(sql "SELECT max(issue_event_id) FROM sessions WHERE issued_by = 'AssumeRole'")
rule=$(grep -o '"rule_id":"[^"]*"' "$CORPUS/ground-truth.jsonl" | head -1 | cut -d'"' -f4)
for target in "--db $OUT/bench.duckdb" "--parquet $OUT/lake"; do
  line="trace ${target%% *}:"
  for arg in "$key" "$role" "$event" "--finding $rule"; do
    # shellcheck disable=SC2086 # $target and --finding are two words each
    /usr/bin/time -f "%e %U %S" -o "$OUT/time.txt" "$OUT/trailsift" trace $target $arg > /dev/null 2>&1
    read -r s u sy < "$OUT/time.txt"
    line="$line ${arg:0:40} ${s}s ($(awk -v u="$u" -v s="$sy" 'BEGIN{printf "%.2f", u+s}')s CPU);"
  done
  echo "$line"
done

detects "trailsift " "$OUT/bench.duckdb" "$OUT/lake"

if [ "${NATIVE:-1}" != 0 ]; then
  /usr/bin/time -f "%e %M" -o "$OUT/time2.txt" "$OUT/benchfloor" duckdb "$CORPUS/AWSLogs" "$OUT/native.duckdb"
  read -r nsecs nrss < "$OUT/time2.txt"
  echo "duckdb read_json: peak RSS $((nrss / 1024)) MiB; it takes $(ratio "$nsecs" "$dbsecs")x the time of ingest --db, $(ratio "$nsecs" "$psecs")x that of --parquet"
  rm -f "$OUT/native.duckdb" "$OUT/native.duckdb.wal"
fi

# Store size against the gzipped input, by corpus size and partition count
# (accounts x regions x days): the target is at most 1.00x for every one.
for shape in $SHAPES; do
  IFS=: read -r n a r d <<< "$shape"
  c=$(corpus "$n" "$a" "$r" "$d")
  cgz=$(du -sb "$c/AWSLogs" | cut -f1)
  ingest db "$OUT/size.duckdb" "$c"
  dbr=$(sizeratio "$size" "$cgz")
  ingest parquet "$OUT/size-lake" "$c"
  pr=$(sizeratio "$size" "$cgz")
  echo "store size, $n events in $((a * r * d)) partitions: --db ${dbr}; --parquet ${pr}"
  rm -rf "$OUT/size.duckdb" "$OUT/size.duckdb.wal" "$OUT/size-lake"
  [ -n "${KEEP:-}" ] || rm -rf "$c"
done

# A bucket of small files: about as many files as events, in a partition
# per account, region and day. Its gunzip floor is mostly opening files.
if [ -n "$BUCKET" ]; then
  IFS=: read -r n a r d <<< "$BUCKET"
  B=$(corpus "$n" "$a" "$r" "$d")
  bfiles=$(find "$B/AWSLogs" -name '*.json.gz' | wc -l)
  echo "bucket corpus: $n events, $bfiles files in $((a * r * d)) partitions, $(($(du -sb "$B/AWSLogs" | cut -f1) / 1000000)) MB gzipped"
  bline=$("$OUT/benchfloor" gunzip "$B/AWSLogs")
  echo "bucket, $bline"
  bfloor=$(echo "$bline" | grep -o 'in [0-9.]*s' | grep -o '[0-9.]*')
  for mode in db parquet; do
    ingest "$mode" "$OUT/bucket-$mode" "$B"
    echo "bucket, ingest --$mode: $stored events in ${secs}s, ${cpu} CPU-s ($(ratio "$secs" "$bfloor")x its gunzip floor), peak RSS $((rss / 1024)) MiB, store $((size / 1000000)) MB"
  done
  detects "bucket, " "$OUT/bucket-db" "$OUT/bucket-parquet"
  # A week's window: a dataset's rules then read only that week's parts.
  since=$("$OUT/trailsift" query --db "$OUT/bucket-db" --format csv "SELECT (min(event_time)::DATE + 7)::VARCHAR FROM events" | tail -1)
  until=$(date -u -d "$since + 7 days" +%F)
  detects "bucket, a week's " "$OUT/bucket-db" "$OUT/bucket-parquet" --since "$since" --until "$until"
  rm -rf "$OUT/bucket-db" "$OUT/bucket-db.wal" "$OUT/bucket-parquet"
  [ -n "${KEEP:-}" ] || rm -rf "$B"
fi

# Scale: the cost per event (wall and CPU) and the peak RSS of a large
# corpus against the main one (the target: within 10% per event, the same
# peak RSS), a re-run that must store nothing, and the rules over it. Each
# scale ingest is compared with an ingest of the main corpus in the same
# mode run just before it, not with the one at the start of the bench:
# the host's speed drifts over the bench's hour (a 10M ingest --parquet
# took 198 s at the end of one bench, 157 s alone the same hour), and a
# ratio of two runs minutes apart holds.
if [ -n "${SCALE:-}" ]; then
  S=$(corpus "$SCALE_EVENTS" 2 3 4)
  sgz=$(du -sb "$S/AWSLogs" | cut -f1)
  sfiles=$(find "$S/AWSLogs" -name '*.json.gz' | wc -l)
  echo "scale corpus: $SCALE_EVENTS events, $sfiles files, $((sgz / 1000000)) MB gzipped"
  # basefor MODE: ingests the main corpus again with --MODE, for the
  # scale run after it to be compared with, and sets bsecs, bcpu, bstored
  # and brss.
  basefor() {
    ingest "$1" "$OUT/scale-base" "$CORPUS"
    bsecs=$secs bcpu=$cpu bstored=$stored brss=$rss
    echo "scale, ingest --$1 of the $EVENTS-event corpus again, just before: ${secs}s, ${cpu} CPU-s, peak RSS $((rss / 1024)) MiB"
    rm -rf "$OUT/scale-base" "$OUT/scale-base.wal"
  }
  # scaleline MODE BASE-SECS BASE-CPU BASE-EVENTS BASE-RSS: the figures of
  # the last ingest against those of the main corpus's run before it.
  scaleline() {
    echo "scale, ingest --$1: $stored events in ${secs}s, ${cpu} CPU-s; per event $(awk -v s="$secs" -v n="$stored" 'BEGIN{printf "%.1f", s*1e6/n}') us wall, $(awk -v s="$cpu" -v n="$stored" 'BEGIN{printf "%.1f", s*1e6/n}') us CPU ($(awk -v s="$secs" -v n="$stored" -v bs="$2" -v bn="$4" 'BEGIN{printf "%.2f", (s/n)/(bs/bn)}')x and $(awk -v s="$cpu" -v n="$stored" -v bs="$3" -v bn="$4" 'BEGIN{printf "%.2f", (s/n)/(bs/bn)}')x the $EVENTS-event run's just before); peak RSS $((rss / 1024)) MiB ($(ratio "$rss" "$5")x); store $((size / 1000000)) MB ($(sizeratio "$size" "$sgz")), peak disk $((peak / 1000000)) MB ($(ratio "$peak" "$size")x the store)"
  }
  basefor db
  ingest db "$OUT/scale.duckdb" "$S"
  scaleline db "$bsecs" "$bcpu" "$bstored" "$brss"
  sstored=$stored
  ingest db "$OUT/scale.duckdb" "$S" again
  verdict=ok
  [ "$stored" = 0 ] && [ "$unchanged" = "$sfiles" ] || verdict="WRONG: the re-run must store nothing"
  echo "scale, ingest --db again: $stored events stored, $unchanged of $sfiles files unchanged, ${secs}s, peak RSS $((rss / 1024)) MiB: $verdict"
  basefor parquet
  ingest parquet "$OUT/scale-lake" "$S"
  scaleline parquet "$bsecs" "$bcpu" "$bstored" "$brss"
  [ "$stored" = "$sstored" ] || echo "scale: WRONG: --parquet stored $stored events, --db $sstored"
  detects "scale, " "$OUT/scale.duckdb" "$OUT/scale-lake"
  rm -rf "$OUT/scale.duckdb" "$OUT/scale.duckdb.wal" "$OUT/scale-lake"
  [ -n "${KEEP:-}" ] || rm -rf "$S"
fi

if [ -z "${KEEP:-}" ]; then
  rm -rf "$OUT/bench.duckdb" "$OUT/bench.duckdb.wal" "$OUT/lake"
fi
