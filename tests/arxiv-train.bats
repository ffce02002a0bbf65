#!/usr/bin/env bats
# arxiv-train.bats - arxiv-train on the synthetic fixtures of
# tests/cases/arxiv-train (three fields, disjoint vocabularies; make-fixtures.py)
# and, where ../shared is present, on a slice of the real data.
load helper

FIX="$TOP/tests/cases/arxiv-train"
USAGE="usage: arxiv-train [-M fast|bert | --model=fast|bert] [-o dir | --output=dir] [-f | --force] [-p patience | --patience=patience] [-e epochs | --epochs=epochs] [-l lr | --lr=lr] [-d dim | --dim=dim] [-g ngrams | --ngrams=ngrams] [-b buckets | --buckets=buckets] [-w class_weight | --class-weight=class_weight] [-j threads | --jobs=threads] [-s seed | --seed=seed] [--verbose] [--test=test] [-v vocab | --vocab=vocab] [-i init_dir | --init=init_dir] [-c config | --config=config] [-D device | --device=device] [--precision=auto|fp32|fp16|bf16] [-r resume_dir | --resume=resume_dir] [--batch-size=n] [--grad-accum=n] [--warmup-ratio=r] [--weight-decay=w] [--max-grad-norm=g] [--dropout=p] [--char-ngrams=min:max] [--l2=l2] [--loss=hinge|softmax] [--teacher=teacher] [-u unlabelled | --unlabelled=unlabelled] [--distill-alpha=a] [--distill-temperature=T] [--param=key=value] [--run-name=name] [--mlflow-parent=run_id] train val"

# small and fast: 1 thread (bit-identical), 64k buckets
train() {
	arxiv-train -j 1 -b 65536 "$@"
}

json_get() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: d=d[k] if not k.isdigit() else d[int(k)]
print(d)' "$@"
}

@test "arxiv-train --help, --version, bad options" {
	run arxiv-train --help
	assert_success
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-train --version
	assert_success "arxiv-train 0.1.0"
	run arxiv-train --bogus
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-train only-one.jsonl
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-train -e 0 a b
	assert_status 2
	assert_line "arxiv-train: 0: invalid epoch count (expected 1..100000)"
	run arxiv-train -M gpt a b
	assert_status 2
	assert_line "arxiv-train: gpt: unknown model type (fast or bert)"
	run arxiv-train --char-ngrams 5:3 a b
	assert_status 2
	assert_line "arxiv-train: invalid char n-gram range 5:3"
	run arxiv-train --loss svm a b
	assert_status 2
	assert_line "arxiv-train: svm: unknown loss (hinge or softmax)"
	run arxiv-train --param nosuch=1 a b
	assert_status 2
	assert_line "arxiv-train: --param: unknown training parameter 'nosuch'"
	run arxiv-train --param l2 a b
	assert_status 2
	assert_line "arxiv-train: l2: expected key=value"
	run arxiv-train --param word_ngrams=2.5 a b
	assert_status 2
	assert_line "arxiv-train: --param: word_ngrams: '2.5' is not an integer"
	run arxiv-train --param loss=svm a b
	assert_status 2
	assert_line "arxiv-train: loss must be hinge or softmax"
}

@test "arxiv-train --param sets parameters by name (stored in artifact.json)" {
	run train -e 2 --param l2=3e-6 --param learning_rate=0.2 --param word_ngrams=1 \
		--param loss=softmax --run-name "trial 3" --mlflow-parent 0123abcd \
		-o art "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_success ""
	[ "$(cat mlruns/*/*/tags/mlflow.runName)" = "trial 3" ]
	[ "$(cat mlruns/*/*/tags/mlflow.parentRunId)" = 0123abcd ]
	[ "$(json_get art/metadata/artifact.json params l2)" = 3e-06 ]
	[ "$(json_get art/metadata/artifact.json params lr)" = 0.2 ]
	[ "$(json_get art/metadata/artifact.json params word_ngrams)" = 1 ]
	[ "$(json_get art/metadata/artifact.json params loss)" = softmax ]
}

@test "arxiv-train: the man page SYNOPSIS matches usage()" {
	syn=$(mandoc -Tascii "$TOP/man/man1/arxiv-train.1" | col -b |
		sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed -e '1d' -e '$d' | tr -s ' \t\n' ' ' | sed 's/^ //; s/ $//')
	[ "usage: $syn" = "$USAGE" ] || { echo "man:   usage: $syn"; echo "usage: $USAGE"; return 1; }
}

@test "arxiv-train writes the artifacts layout, learns the fixtures, records an MLflow run" {
	run train -e 4 --test "$FIX/test.jsonl" -o art "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_success ""
	for f in model/config.json model/model.safetensors tokenizer/preprocess.json \
		metadata/artifact.json metadata/label2id.json metadata/metrics.json; do
		[ -s "art/$f" ] || { echo "missing art/$f"; return 1; }
	done
	[ ! -e art/metadata/best_hyperparams.json ]
	[ "$(json_get art/metadata/artifact.json format)" = arxiv-artifacts ]
	[ "$(json_get art/metadata/artifact.json version)" = 2 ]
	[ "$(json_get art/metadata/artifact.json model_type)" = fast ]
	[ "$(json_get art/metadata/artifact.json params epochs)" = 4 ]
	[ "$(json_get art/metadata/label2id.json Physics)" = 2 ]
	[ "$(json_get art/metadata/metrics.json val accuracy)" = 1.0 ]
	[ "$(json_get art/metadata/metrics.json val n)" = 30 ]
	[ "$(json_get art/metadata/metrics.json test n)" = 30 ]
	[ "$(json_get art/metadata/metrics.json best_epoch)" = 4 ]
	[ "$(json_get art/tokenizer/preprocess.json prep)" = \
		"v1 nfkc,latex,filter,space,lower,stop,stem trunc=0 stem=english stop=default" ]
	[ "$(json_get art/model/config.json dtype)" = F16 ]
	# the default loss, its learning rate and penalty, a fitted temperature
	[ "$(json_get art/model/config.json loss)" = hinge ]
	[ "$(json_get art/metadata/artifact.json params loss)" = hinge ]
	[ "$(json_get art/metadata/artifact.json params lr)" = 0.1 ]
	[ "$(json_get art/metadata/artifact.json params l2)" = 2e-06 ]
	python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["temperature"]; sys.exit(not (0.001 <= t <= 1000 and t != 1))' art/model/config.json
	ls -d mlruns/*/*/meta.yaml > /dev/null
	# nothing but the artifacts and the MLflow store
	[ "$(ls | tr '\n' ' ')" = "art mlruns " ]
}

@test "arxiv-train --loss softmax: the cross-entropy model, temperature 1, its own defaults" {
	run train --loss softmax -e 3 -o art "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_success ""
	[ "$(json_get art/model/config.json loss)" = softmax ]
	[ "$(json_get art/model/config.json temperature)" = 1.0 ]
	[ "$(json_get art/metadata/artifact.json params lr)" = 0.5 ]
	[ "$(json_get art/metadata/artifact.json params l2)" = 0.0 ]
	[ "$(json_get art/metadata/metrics.json val accuracy)" = 1.0 ]
	run arxiv-predict -m art "$FIX/val.jsonl"
	assert_success
	[ "${#lines[@]}" = 30 ]
}

@test "arxiv-train: fixed seed and one thread give a bit-identical model" {
	train -e 3 -s 5 -o a "$FIX/train.jsonl" "$FIX/val.jsonl"
	train -e 3 -s 5 -o b "$FIX/train.jsonl" "$FIX/val.jsonl"
	train -e 3 -s 6 -o c "$FIX/train.jsonl" "$FIX/val.jsonl"
	cmp a/model/model.safetensors b/model/model.safetensors
	! cmp -s a/model/model.safetensors c/model/model.safetensors
}

@test "arxiv-train refuses to overwrite without -f" {
	train -e 1 -o art "$FIX/train.jsonl" "$FIX/val.jsonl"
	echo keep > art/marker
	run train -e 1 -o art "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_failure "arxiv-train: art: already exists (overwrite it with -f)"
	[ -f art/marker ]
	run train -f -e 1 -o art "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_success
	[ ! -e art/marker ] && [ -f art/model/model.safetensors ]
	[ "$(ls | tr '\n' ' ')" = "art mlruns " ]
}

@test "arxiv-train: progress lines with -v, quiet without when stderr is not a terminal" {
	run train --verbose -e 3 -p 0 -o art "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_success
	[ "$(grep -c '^arxiv-train: epoch [1-3]/3  [0-9]* ex/s  train loss [0-9.]*  val loss [0-9.]*  val acc [0-9.]*  val macro-F1 [0-9.]*' <<<"$output")" = 3 ]
	assert_line "arxiv-train: art: best epoch 3"
	run train -f -e 2 -o art "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_success ""
}

@test "arxiv-train -f: killed at each rename of the artifacts path, the path holds a complete model; dead runs' temporaries are removed" {
	command -v strace >/dev/null || skip "strace not installed (pipelines/install-deps.sh installs it)"
	train -e 1 -o art "$FIX/train.jsonl" "$FIX/val.jsonl"
	mkdir art.tmp.deadbeef-1.ABCDEF	# another host's (or a live) run: kept
	sys=rename,renameat,renameat2
	n=1 killed=0
	while [ "$n" -le 5 ]; do
		st=0	# a SIGKILL at the n-th rename that touches the path art
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -o /dev/null -P art -e trace=$sys -e inject=$sys:signal=SIGKILL:when=$n \
			arxiv-train -j 1 -b 65536 -e 1 -f -o art "$FIX/train.jsonl" "$FIX/val.jsonl" || st=$?
		for f in metadata/artifact.json metadata/metrics.json model/model.safetensors \
			model/config.json tokenizer/preprocess.json; do
			[ -s "art/$f" ] || { echo "kill at rename $n: art/$f missing"; ls -la . art; return 1; }
		done
		[ "$st" = 0 ] && break
		[ "$st" = 137 ] || { echo "kill at rename $n: status $st"; return 1; }
		killed=$((killed + 1))
		n=$((n + 1))
	done
	[ "$killed" -ge 1 ]	# a run was really killed at the swap
	echo '{"id":"1","text":"electron spin lattice"}' | arxiv-predict -m art | grep -q '"label"'
	# the killed runs left their temporaries; the successful last run removed them
	[ "$(ls -d art.tmp.* | tr '\n' ' ')" = "art.tmp.deadbeef-1.ABCDEF " ] || { ls -d art.tmp.*; return 1; }
	[ -z "$(ls -d ./*.old.* 2>/dev/null)" ]
}

@test "arxiv-train -f refuses to replace what is not an artifacts directory" {
	mkdir home && echo precious > home/notes.txt
	run train -e 1 -f -o home "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_failure "arxiv-train: home: not an artifacts directory (no metadata/artifact.json); refusing to replace it"
	[ "$(cat home/notes.txt)" = precious ]
	echo x > file
	run train -e 1 -f -o file "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_failure "arxiv-train: file: is not a directory, not an artifacts directory; refusing to replace it"
	[ -z "$(ls -d ./*.tmp.* 2>/dev/null)" ]
}

@test "arxiv-train: the artifacts directory honours the umask" {
	(umask 022 && train -e 1 -o art "$FIX/train.jsonl" "$FIX/val.jsonl")
	[ "$(stat -c %a art)" = 755 ]
	[ "$(stat -c %a art/model art/metadata art/tokenizer)" = "$(printf '755\n755\n755')" ]
	[ "$(stat -c %a art/model/model.safetensors art/metadata/metrics.json)" = "$(printf '644\n644')" ]
	(umask 027 && train -e 1 -f -o art "$FIX/train.jsonl" "$FIX/val.jsonl")
	[ "$(stat -c %a art art/model)" = "$(printf '750\n750')" ]
	[ "$(stat -c %a art/model/model.safetensors)" = 640 ]
}

@test "arxiv-train: a diverging learning rate stops with a clear error, writes nothing" {
	run train -e 8 -l 3 -o art "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_failure "arxiv-train: training diverged at epoch 1 (loss is not finite); lower the learning rate (now 3)"
	[ ! -e art ] && [ -z "$(ls -d ./*.tmp.* 2>/dev/null)" ]
	run train -e 8 -l 1 -o art "$FIX/train.jsonl" "$FIX/val.jsonl"
	if [ "$status" -ne 0 ]; then	# diverges on some machines' rounding: then the same message
		assert_output_contains "training diverged at epoch"
	else
		python3 -c 'import json,math,sys; d=json.load(open("art/metadata/metrics.json")); assert math.isfinite(d["val"]["loss"])'
	fi
}

@test "arxiv-train: early stopping keeps the best epoch" {
	# validation labels swapped: the better the model, the higher the val loss
	sed -e 's/"label":"Physics"/"label":"X"/' -e 's/"label":"Mathematics"/"label":"Physics"/' \
		-e 's/"label":"X"/"label":"Mathematics"/' "$FIX/val.jsonl" > swapped.jsonl
	run train --verbose -e 30 -p 1 -o art "$FIX/train.jsonl" swapped.jsonl
	assert_success
	n=$(grep -c '^arxiv-train: epoch ' <<<"$output")
	[ "$n" = 2 ]
	[ "$(json_get art/metadata/metrics.json best_epoch)" = 1 ]
	[ "$(json_get art/metadata/metrics.json epochs)" = 2 ]
	grep -q '^arxiv-train: epoch 1/30 .*(best)$' <<<"$output"
	! grep -q '^arxiv-train: epoch 2/30 .*(best)$' <<<"$output"
}

@test "arxiv-train: bad input lines give file:line errors and write nothing" {
	head -n 3 "$FIX/train.jsonl" > bad.jsonl
	echo '{"id":"x","text":' >> bad.jsonl
	run train -o art bad.jsonl "$FIX/val.jsonl"
	assert_failure "arxiv-train: bad.jsonl:4: invalid JSON: unexpected token near end of file"
	echo '{"id":"1","text":"a b c","label":"Chemistry","fields":["Chemistry"]}' > val.jsonl
	run train -o art "$FIX/train.jsonl" val.jsonl
	assert_failure 'arxiv-train: val.jsonl:1: unknown label "Chemistry"'
	echo '{"id":"1","label":"Physics"}' > notext.jsonl
	run train -o art notext.jsonl "$FIX/val.jsonl"
	assert_failure 'arxiv-train: notext.jsonl:1: missing string "text"'
	run train -o art "$FIX/train.jsonl" /nonexistent.jsonl
	assert_failure "arxiv-train: /nonexistent.jsonl: No such file or directory"
	[ ! -e art ] && [ -z "$(ls -d ./*.tmp.* 2>/dev/null)" ]
}

@test "arxiv-train: empty training or validation set" {
	: > empty.jsonl
	run train -o art empty.jsonl "$FIX/val.jsonl"
	assert_failure
	assert_output_contains "empty.jsonl"
	run train -o art "$FIX/train.jsonl" empty.jsonl
	assert_failure "arxiv-train: empty.jsonl: empty validation set"
	[ ! -e art ]
}

@test "arxiv-train: cleaned input keeps its signature; mixed signatures are refused" {
	command -v arxiv-clean >/dev/null || skip "arxiv-clean not built"
	arxiv-clean -S "$FIX/train.jsonl" > train.clean.jsonl
	arxiv-clean -S "$FIX/val.jsonl" > val.clean.jsonl
	sig=$(head -n 1 train.clean.jsonl | python3 -c 'import json,sys; print(json.load(sys.stdin)["prep"])')
	train -e 2 -o art train.clean.jsonl val.clean.jsonl
	[ "$(json_get art/tokenizer/preprocess.json prep)" = "$sig" ]
	# the validation set is cleaned with the training set's settings
	train -e 2 -o art2 train.clean.jsonl "$FIX/val.jsonl"
	[ "$(json_get art2/tokenizer/preprocess.json prep)" = "$sig" ]
	arxiv-clean "$FIX/val.jsonl" > val.default.jsonl
	run train -e 2 -o art3 train.clean.jsonl val.default.jsonl
	assert_failure
	assert_output_contains "preprocessed as"
}

@test "arxiv-train: SIGTERM after an epoch keeps the best complete epoch" {
	need_shared 0
	f=$(shared_part 0)
	zcat "$f" | head -n 6000 | arxiv-map > all.jsonl
	head -n 5000 all.jsonl > tr.jsonl
	tail -n 1000 all.jsonl > va.jsonl
	arxiv-train --verbose -j 1 -b 65536 -e 100000 -p 0 -o art tr.jsonl va.jsonl 2> log &
	pid=$!
	for _ in $(seq 100); do grep -q 'epoch 2/' log 2>/dev/null && break; sleep 0.1; done
	kill -TERM "$pid"
	wait "$pid" && st=0 || st=$?
	cat log
	[ "$st" = 1 ]
	grep -q "^arxiv-train: interrupted by SIGTERM: art holds the best complete epoch" log
	[ "$(json_get art/metadata/metrics.json stopped)" = True ]
	[ -z "$(ls -d ./*.tmp.* 2>/dev/null)" ]
	run arxiv-predict -m art "$FIX/abstracts.txt"
	assert_success
	[ "${#lines[@]}" = 3 ]
}

@test "arxiv-train: SIGINT before the first epoch completes writes nothing" {
	need_shared 0
	f=$(shared_part 0)
	zcat "$f" | head -n 3000 | arxiv-map > tr.jsonl
	arxiv-train -j 1 -e 1 -o art tr.jsonl tr.jsonl 2> log &
	pid=$!
	sleep 0.2
	kill -INT "$pid"
	wait "$pid" && st=0 || st=$?
	[ "$st" = 1 ]
	grep -qx "arxiv-train: interrupted before the first epoch completed" log
	[ ! -e art ] && [ -z "$(ls -d ./*.tmp.* 2>/dev/null)" ]
}

@test "arxiv-train over tensor streams stores the vocabulary and checks its hash" {
	command -v arxiv-tok >/dev/null || skip "arxiv-tok not built"
	need_vocab
	v=$(shared_vocab)
	arxiv-tok -v "$v" "$FIX/train.jsonl" > train.bin || skip "arxiv-tok failed"
	arxiv-tok -v "$v" "$FIX/val.jsonl" > val.bin
	run train -e 3 -o art train.bin val.bin
	assert_failure
	assert_output_contains "vocabulary"
	{ cat "$v"; echo "[unused-extra]"; } > other.txt
	run train -e 3 -v other.txt -o art train.bin val.bin
	assert_failure
	assert_output_contains "does not match the tensor stream"
	train -e 3 -v "$v" -o art train.bin val.bin
	cmp "$v" art/tokenizer/vocab.txt
	[ "$(json_get art/tokenizer/preprocess.json input)" = wordpiece ]
	run arxiv-predict -m art -K 1 "$FIX/abstracts.txt"
	assert_success
	[ "$(grep -o '"predicted_category":"[^"]*"' <<<"$output" | tr '\n' ' ')" = \
		'"predicted_category":"Computer Science" "predicted_category":"Mathematics" "predicted_category":"Physics" ' ]
}

@test "arxiv-train: --help > /dev/full fails" {
	run sh -c 'arxiv-train --help > /dev/full'
	assert_status 1
}

@test "arxiv-train: the man page EXAMPLES run" {
	cp "$FIX"/train.jsonl "$FIX"/val.jsonl "$FIX"/test.jsonl "$FIX"/abstracts.txt .
	command -v arxiv-clean >/dev/null || skip "arxiv-clean not built"
	man_examples man1/arxiv-train.1 > examples.sh
	[ "$(wc -l < examples.sh)" -ge 5 ]
	run bash -eo pipefail examples.sh
	assert_success
	# both models the examples train sort the three fixture abstracts right
	for d in artifacts cleaned; do
		[ "$(json_get $d/metadata/artifact.json format)" = arxiv-artifacts ]
		run arxiv-predict -m $d -k 1 abstracts.txt
		assert_success
		[ "$(grep -o '"predicted_category":"[^"]*"' <<<"$output" | tr '\n' ' ')" = \
			'"predicted_category":"Computer Science" "predicted_category":"Mathematics" "predicted_category":"Physics" ' ]
	done
}

@test "arxiv-train: model.safetensors reads in Hugging Face's safetensors library" {
	need_venv safetensors-venv 'import safetensors, numpy' safetensors numpy	# made on first use
	py=$VENV_PY
	train -e 1 -o art "$FIX/train.jsonl" "$FIX/val.jsonl"
	run "$py" -c '
import sys
from safetensors.numpy import load_file
from safetensors import safe_open
t = load_file(sys.argv[1])
with safe_open(sys.argv[1], "np") as f:
    meta = f.metadata()
print(sorted((k, v.dtype.name, v.shape) for k, v in t.items()), meta)' art/model/model.safetensors
	assert_success "[('idf.weight', 'float16', (65536,)), ('input.weight', 'float16', (65536, 3)), ('output.bias', 'float16', (3,))] {'format': 'arxiv-fast'}"
}

# Distillation fixtures: a teacher trained on the training set with its labels
# rotated (CS -> Math -> Physics -> CS), so its answers differ from the truth
# on every record; 15 labelled records, and the other 135 without labels.
distill_fixtures() {
	python3 - "$FIX" <<'PY'
import json, sys
fix = sys.argv[1]
rot = {"Computer Science": "Mathematics", "Mathematics": "Physics", "Physics": "Computer Science"}
def rows(name):
    return [json.loads(l) for l in open(fix + "/" + name)]
tr, va = rows("train.jsonl"), rows("val.jsonl")
for name, rs in (("rot.jsonl", tr), ("rotval.jsonl", va)):
    with open(name, "w") as f:
        for r in rs:
            f.write(json.dumps(dict(r, label=rot[r["label"]])) + "\n")
with open("lab.jsonl", "w") as f:
    for r in tr[:15]:
        f.write(json.dumps(r) + "\n")
with open("unl.jsonl", "w") as f:
    for r in tr[15:]:
        f.write(json.dumps({"id": r["id"], "text": r["text"]}) + "\n")
PY
	train -o teacher rot.jsonl rotval.jsonl
}

# share of val.jsonl on which models $1 and $2 give the same answer
agreement() {
	arxiv-predict -m "$1" -K 1 "$FIX/val.jsonl" > a.out
	arxiv-predict -m "$2" -K 1 "$FIX/val.jsonl" > b.out
	python3 -c 'import json, sys
a = [json.loads(l)["predicted_category"] for l in open("a.out")]
b = [json.loads(l)["predicted_category"] for l in open("b.out")]
assert len(a) == len(b) == 30
print(sum(x == y for x, y in zip(a, b)) / len(a))'
}

@test "arxiv-train --teacher -u: the student moves to the teacher's answers on held-out records" {
	distill_fixtures
	# the teacher learned the rotated labels (so it contradicts the truth everywhere)
	[ "$(json_get teacher/metadata/metrics.json val accuracy)" = 1.0 ]
	run train -o plain lab.jsonl "$FIX/val.jsonl"
	assert_success ""
	run train --teacher teacher -u unl.jsonl --distill-alpha 0.9 -o student lab.jsonl "$FIX/val.jsonl"
	assert_success ""
	plain=$(agreement teacher plain)
	student=$(agreement teacher student)
	echo "agreement with the teacher: plain $plain, distilled $student"
	# without the teacher the student learns the truth, which the teacher never says
	[ "$plain" = 0.0 ]
	[ "$student" = 1.0 ]
	# the same with the teacher's soft labels on the labelled records only, alpha 1
	run train --teacher teacher --distill-alpha 1 -o student1 lab.jsonl "$FIX/val.jsonl"
	assert_success ""
	[ "$(agreement teacher student1)" = 1.0 ]
	# alpha 0 and no unlabelled records: the true labels only
	run train --teacher teacher --distill-alpha 0 -o student0 lab.jsonl "$FIX/val.jsonl"
	assert_success ""
	[ "$(agreement teacher student0)" = 0.0 ]
	# recorded in the artifacts and the MLflow params
	[ "$(json_get student/metadata/artifact.json distillation teacher_model_type)" = fast ]
	[ "$(json_get student/metadata/artifact.json distillation unlabelled_examples)" = 135 ]
	[ "$(json_get student/metadata/artifact.json distillation alpha)" = 0.9 ]
	[ "$(json_get student/metadata/artifact.json distillation temperature)" = 2.0 ]
	[ "$(json_get student/metadata/artifact.json params teacher)" = teacher ]
	[ "$(json_get student/metadata/artifact.json params loss)" = softmax ]
	[ "$(json_get student/metadata/artifact.json params distill_alpha)" = 0.9 ]
	[ "$(grep -l unl.jsonl mlruns/*/*/params/unlabelled | wc -l)" = 1 ]
	d=$(dirname "$(grep -l unl.jsonl mlruns/*/*/params/unlabelled)")
	[ "$(cat "$d/teacher")" = teacher ]
	[ "$(cat "$d/distill_alpha")" = 0.9 ]
	[ "$(cat "$d/distill_temperature")" = 2.0 ]
	[ "$(cat "$d/loss")" = softmax ]
}

@test "arxiv-train --teacher: bad teachers, label sets and parameters are refused" {
	run train --teacher nosuch -o x "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_status 1
	assert_output "arxiv-train: nosuch: teacher: not an arxiv artifacts directory (no metadata/artifact.json)"
	[ ! -e x ]
	sed 's/Physics/Astro/g' "$FIX/train.jsonl" > astro.jsonl
	sed 's/Physics/Astro/g' "$FIX/val.jsonl" > astroval.jsonl
	train -e 1 -o astro astro.jsonl astroval.jsonl
	run train --teacher astro -o x "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_status 1
	assert_output "arxiv-train: astro: the teacher has no label \"Physics\"; its labels must cover the training set's"
	[ ! -e x ]
	printf '{"text":\n' > bad.jsonl
	run train --teacher astro -u bad.jsonl -o x astro.jsonl astroval.jsonl
	assert_status 1
	assert_output "arxiv-train: bad.jsonl:1: invalid JSON: unexpected token near end of file"
	run train -u "$FIX/test.jsonl" -o x "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_status 2
	assert_output "arxiv-train: unlabelled records need a teacher"
	run train --teacher astro --distill-alpha 1.5 -o x "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_status 2
	assert_output "arxiv-train: 1.5: invalid distill alpha (expected 0..1)"
	run train --teacher astro --param distill_alpha=-0.1 -o x "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_status 2
	assert_output "arxiv-train: --param: distill_alpha: -0.1 is out of range [0, 1]"
	run train --teacher astro --param distill_temperature=0 -o x "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_status 2
	assert_output "arxiv-train: --param: distill_temperature: 0 is out of range [0.01, 100]"
	run train -M bert --teacher astro -o x "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_status 2
	assert_output "arxiv-train: distillation (teacher) trains the fast model only"
}

@test "arxiv-train stores the fields threshold and, with enough texts, the domain check (metadata/decision.json)" {
	# tiny fixtures: a fields threshold from validation, no domain check
	train -o small "$FIX/train.jsonl" "$FIX/val.jsonl" 2> log
	[ -f small/metadata/decision.json ]
	[ ! -e small/model/domain.safetensors ]
	python3 - small/metadata/decision.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert 0.05 <= d["fields_threshold"] <= 0.95, d
assert "domain" not in d, d
assert 0 <= d["val"]["fields_f1"] <= 1, d
PY
	# 1200 phrase-structured texts (cross-listed every fourth): both, fitted on validation
	python3 "$TOP/tests/tools/phrase_corpus.py" 1200 1 > dtrain.jsonl
	python3 "$TOP/tests/tools/phrase_corpus.py" 300 2 > dval.jsonl
	train -s 1 -e 4 --loss softmax -o big dtrain.jsonl dval.jsonl 2> log
	[ -s big/model/domain.safetensors ]
	python3 - big/metadata/decision.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
v = d["val"]
# cross-listed papers: listing a second field beats the primary alone
assert d["fields_threshold"] < 0.5 and v["fields_f1"] > v["fields_f1_primary_only"], d
dom = d["domain"]
assert 0 < dom["threshold"] <= 0.5 and len(dom["coef"]) == 5, dom
assert v["false_abstain"] <= 0.005, v
assert v["abstain_random_text"] >= 0.99 and v["abstain_shuffled_words"] >= 0.9, v
PY
	# the same seed gives the same decision
	train -s 1 -e 4 --loss softmax -o again dtrain.jsonl dval.jsonl 2> log
	cmp big/metadata/decision.json again/metadata/decision.json
	cmp big/model/domain.safetensors again/model/domain.safetensors
}
