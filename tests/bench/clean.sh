#!/usr/bin/env bash
# clean.sh - arxiv-clean throughput on real records, serial and with GNU
# parallel, with peak RSS, beside the seed's NLTK pipeline on the same records.
# N=records for arxiv-clean (default 100000), NLTK_N=records for NLTK (default
# 5000: it is ~20x slower), JOBS=parallel jobs (default: cores).
# Needs ARXIV_SHARED (../shared) and arxiv-clean on PATH (tests/bench/run.sh sets both).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
N=${N:-100000}
NLTK_N=${NLTK_N:-5000}
JOBS=${JOBS:-$(nproc)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Input: the title and abstract joined as "text" (what arxiv-map writes), compact
# JSON; built with arxiv-map when it exists, else with python3.
# (zcat dies of SIGPIPE when head has enough: not an error)
{ zcat "$ARXIV_SHARED"/data/arxiv-part-00*.jsonl.gz || true; } | head -n "$N" > "$tmp/raw.jsonl"
[ -s "$tmp/raw.jsonl" ] || { echo "clean.sh: no records read from $ARXIV_SHARED/data" >&2; exit 1; }
if command -v arxiv-map > /dev/null; then
	arxiv-map -k < "$tmp/raw.jsonl" > "$tmp/in.jsonl" 2> /dev/null
else
	/usr/bin/python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    print(json.dumps({"id": r["id"], "text": r["title"].strip() + "\n" + r["abstract"].strip()},
                     ensure_ascii=False, separators=(",", ":")))' < "$tmp/raw.jsonl" > "$tmp/in.jsonl"
fi
rm -f "$tmp/raw.jsonl"
n=$(wc -l < "$tmp/in.jsonl")
head -n "$NLTK_N" "$tmp/in.jsonl" > "$tmp/nltk_in.jsonl"
nn=$(wc -l < "$tmp/nltk_in.jsonl")
mb=$(awk -v b="$(stat -c %s "$tmp/in.jsonl")" 'BEGIN { printf "%.2f", b / 1048576 }')
nmb=$(awk -v b="$(stat -c %s "$tmp/nltk_in.jsonl")" 'BEGIN { printf "%.2f", b / 1048576 }')
# plain-text input for -p: one text per line (newlines inside a text become spaces)
/usr/bin/python3 -c '
import json, sys
for l in sys.stdin:
    print(json.loads(l)["text"].replace("\n", " ").replace("\r", " "))' < "$tmp/in.jsonl" > "$tmp/in.txt"

# NLTK data from Debian packages: WordNet from `wordnet`, the stop words from
# our data/stopwords.txt (NLTK's English list), in a temporary nltk_data folder.
nd="$tmp/nltk_data"
mkdir -p "$nd/corpora/wordnet" "$nd/corpora/stopwords"
for f in /usr/share/wordnet/*.exc /usr/share/wordnet/data.* /usr/share/wordnet/index.*; do
	ln -s "$f" "$nd/corpora/wordnet/"
done
# lexnames (WordNet 3.0's lexicographer file list; Debian does not ship it)
/usr/bin/python3 - "$nd/corpora/wordnet/lexnames" <<'PY'
import sys
names = ("adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
         "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group "
         "noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant "
         "noun.possession noun.process noun.quantity noun.relation noun.shape noun.state "
         "noun.substance noun.time verb.body verb.change verb.cognition verb.communication "
         "verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion "
         "verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl").split()
pos = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
with open(sys.argv[1], "w") as f:
    for i, n in enumerate(names):
        f.write("%02d\t%s\t%d\n" % (i, n, pos[n.split(".")[0]]))
PY
grep -v '^#' "${ARXIV_DATADIR:-$here/../../data}/stopwords.txt" > "$nd/corpora/stopwords/english"

# run LABEL RECORDS MB CMD: wall time, records/s, MB/s, peak RSS (largest process),
# and records per CPU second (user + sys of the command and its children: on a
# busy shared machine the steadier number)
run() {
	local label=$1 recs=$2 size=$3 cmd=$4 t0 t1
	t0=$(date +%s.%N)
	/usr/bin/time -f '%M %U %S' -o "$tmp/rss" bash -c "$cmd" > "$tmp/out"
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }' > "$tmp/wall"
	read -r rss ut st < "$tmp/rss"
	awk -v l="$label" -v a="$t0" -v b="$t1" -v n="$recs" -v mb="$size" -v r="$rss" -v c="$ut" -v s="$st" \
		'BEGIN { t = b - a; c += s; if (c < 0.01) c = 0.01
		printf "%-40s %8d %8.2f s %10.0f rec/s %7.1f MB/s %8.1f MiB %10.0f\n", l, n, t, n / t, mb / t, r / 1024, n / c }'
}

echo "input: $n records ($mb MiB JSONL) for arxiv-clean, $nn for NLTK; $(nproc) cores, $JOBS jobs"
printf '%-40s %8s %10s %16s %12s %12s %10s\n' "cleaner" records wall throughput "MB/s" "peak RSS" "rec/CPU-s"
run "arxiv-clean (1 core)" "$n" "$mb" "arxiv-clean < '$tmp/in.jsonl'"
run "arxiv-clean -p plain text (1 core)" "$n" "$mb" "arxiv-clean -p < '$tmp/in.txt'"
if command -v parallel > /dev/null; then
	run "arxiv-clean, GNU parallel -j$JOBS" "$n" "$mb" \
		"parallel --pipe -k --block 4M -j $JOBS arxiv-clean < '$tmp/in.jsonl'"
fi
run "arxiv-clean on the NLTK sample (1 core)" "$nn" "$nmb" "arxiv-clean < '$tmp/nltk_in.jsonl'"
cp "$tmp/out" "$tmp/c.jsonl"
run "NLTK pipeline, python3 (1 core)" "$nn" "$nmb" \
	"/usr/bin/python3 '$here/nltk_clean.py' --nltk-data '$nd' < '$tmp/nltk_in.jsonl'"
t_all=$(cat "$tmp/wall")
cp "$tmp/out" "$tmp/n.txt"
head -n 1 "$tmp/nltk_in.jsonl" > "$tmp/one.jsonl"
run "NLTK start-up (1 record)" 1 0 \
	"/usr/bin/python3 '$here/nltk_clean.py' --nltk-data '$nd' < '$tmp/one.jsonl'"
awk -v a="$t_all" -v s="$(cat "$tmp/wall")" -v n="$nn" \
	'BEGIN { printf "%-40s %8d %8.2f s %10.0f rec/s   (start-up subtracted)\n", "NLTK pipeline, steady state", n, a - s, n / (a - s) }'
echo "sample (record 1): arxiv-clean: $(head -n 1 "$tmp/c.jsonl" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["clean"])' | cut -c1-150)"
echo "sample (record 1): NLTK:        $(head -n 1 "$tmp/n.txt" | cut -c1-150)"
