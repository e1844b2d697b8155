#!/usr/bin/env bash
# Compares what two telegen binaries print for `telegen replay` over every capture in the
# given folders (default: the repository's own captures, and ../shared/captures when it
# exists): the JSON records without their random trace and span ids, and the summary
# line without its timing. For refactors that must not change behaviour:
#
#   scripts/replay-diff.sh OLD_BINARY NEW_BINARY [DIR...]
#
# Exits 1 and names the first differing lines of each capture that differs.
set -euo pipefail
old=${1:?usage: replay-diff.sh OLD_BINARY NEW_BINARY [DIR...]}
new=${2:?usage: replay-diff.sh OLD_BINARY NEW_BINARY [DIR...]}
shift 2
cd "$(dirname "$0")/.."
dirs=("$@")
if [ ${#dirs[@]} -eq 0 ]; then
  dirs=(crates/telegen/tests/captures)
  [ -d ../shared/captures ] && dirs+=(../shared/captures)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
norm() {
  # Records: drop ids. Summary: drop the duration and rate.
  sed -E 's/"(trace_id|span_id|parent_span_id)":"[0-9a-f]*",?//g' "$1" > "$1.n"
  sed -E 's/ in [0-9.]+ s \([0-9.]+ MB\/s\)//' "$2" > "$2.n"
}
files=0 differ=0 records=0
while IFS= read -r -d '' f; do
  files=$((files + 1))
  for b in old new; do
    bin=$old; [ $b = new ] && bin=$new
    "$bin" replay --no-progress "$f" > "$tmp/$b.out" 2> "$tmp/$b.err" || echo "exit $?" >> "$tmp/$b.err"
    norm "$tmp/$b.out" "$tmp/$b.err"
  done
  records=$((records + $(wc -l < "$tmp/new.out")))
  if ! cmp -s "$tmp/old.out.n" "$tmp/new.out.n" || ! cmp -s "$tmp/old.err.n" "$tmp/new.err.n"; then
    differ=$((differ + 1))
    echo "DIFFERS: $f"
    diff "$tmp/old.out.n" "$tmp/new.out.n" | head -5 || true
    diff "$tmp/old.err.n" "$tmp/new.err.n" | head -5 || true
  fi
done < <(find "${dirs[@]}" -type f \( -name '*.pcap' -o -name '*.pcapng' \) -print0 | sort -z)
echo "replay-diff: $files captures, $records records, $differ differ"
[ "$differ" -eq 0 ]
