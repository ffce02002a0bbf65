#!/usr/bin/python3
"""model_peers.py - the peers of tests/bench/model.sh, and its table.

  model_peers.py --threads T --tmp DIR TRAIN.jsonl VALTEXT.jsonl
      trains and applies Debian's `fasttext supervised` (unigrams, bigrams; 5
      epochs) and scikit-learn TF-IDF (word 1-2 grams) + LinearSVC; prints one
      row per peer: name|labels file|train s|predict s|train RSS MB|predict RSS MB|size bytes
  model_peers.py --sklearn-child ...   (internal: the sklearn run, in its own process for RSS)
  model_peers.py --table VAL.jsonl < rows
      metrics of every row against the truth of VAL.jsonl, printed side by side.

Prediction time is from the raw joined text, preprocessing included, model
load excluded (timed on an empty input and subtracted): for
fastText the same lower-casing and word split as for training (in Python)
plus `fasttext predict` (single-threaded); for scikit-learn the vectorizer's
transform plus the SVM (single-threaded: LinearSVC has no n_jobs).
"""
import json
import os
import pickle
import re
import resource
import subprocess
import sys
import time

WORD = re.compile(r"\w+")


def ft_text(t):
    return " ".join(WORD.findall(t.lower()))


def gnu_time(cmd, log):
    t0 = time.time()
    subprocess.run(["/usr/bin/time", "-v", "-o", log] + cmd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.time() - t0
    rss = 0
    for line in open(log):
        if "Maximum resident set size" in line:
            rss = int(line.split()[-1]) // 1024
    return wall, rss


def fasttext_rows(threads, tmp, train, valtext):
    ftrain = os.path.join(tmp, "ft.train")
    with open(ftrain, "w") as f:
        for line in open(train):
            r = json.loads(line)
            f.write("__label__%s %s\n" % (r["label"].replace(" ", "_"), ft_text(r["text"])))
    texts = [json.loads(line)["text"] for line in open(valtext)]
    for ng in (1, 2):
        out = os.path.join(tmp, "ft%d" % ng)
        tw, trss = gnu_time(["fasttext", "supervised", "-input", ftrain, "-output", out,
                             "-epoch", "5", "-wordNgrams", str(ng), "-thread", str(threads)],
                            out + ".train.time")
        t0 = time.time()
        fin = out + ".val"
        with open(fin, "w") as f:
            for t in texts:
                f.write(ft_text(t) + "\n")
        prep = time.time() - t0
        t0 = time.time()
        log = out + ".pred.time"
        with open(out + ".pred", "w") as fo:
            subprocess.run(["/usr/bin/time", "-v", "-o", log, "fasttext", "predict",
                            out + ".bin", fin], check=True, stdout=fo)
        pw = time.time() - t0 + prep
        t0 = time.time()
        subprocess.run(["fasttext", "predict", out + ".bin", "/dev/null"], check=True,
                       stdout=subprocess.DEVNULL)
        pw -= time.time() - t0      # the model load, not counted
        prss = 0
        for line in open(log):
            if "Maximum resident set size" in line:
                prss = int(line.split()[-1]) // 1024
        labels = out + ".labels"
        with open(out + ".pred") as fi, open(labels, "w") as fo:
            for line in fi:
                fo.write(line.strip().replace("__label__", "").replace("_", " ") + "\n")
        name = "fasttext supervised %s, 5 ep" % ("unigram" if ng == 1 else "bigram")
        print("%s|%s|%.2f|%.3f|%d|%d|%d" % (name, labels, tw, pw, trss, prss,
                                             os.path.getsize(out + ".bin")))
        sys.stdout.flush()


def sklearn_child(tmp, train, valtext):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC
    import numpy as np

    X, y = [], []
    for line in open(train):
        r = json.loads(line)
        X.append(r["text"])
        y.append(r["label"])
    t0 = time.time()
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2,
                                          dtype=np.float32), LinearSVC())
    model.fit(X, y)
    tw = time.time() - t0
    del X, y
    texts = [json.loads(line)["text"] for line in open(valtext)]
    t0 = time.time()
    pred = model.predict(texts)
    pw = time.time() - t0
    labels = os.path.join(tmp, "sk.labels")
    with open(labels, "w") as f:
        for p in pred:
            f.write(p + "\n")
    mpath = os.path.join(tmp, "sk.pickle")
    with open(mpath, "wb") as f:
        pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print("sklearn TF-IDF 1-2 + LinearSVC|%s|%.2f|%.3f|%d|%d|%d" % (
        labels, tw, pw, rss, rss, os.path.getsize(mpath)))


def peers(argv):
    threads, tmp = int(argv[argv.index("--threads") + 1]), argv[argv.index("--tmp") + 1]
    train, valtext = argv[-2], argv[-1]
    fasttext_rows(threads, tmp, train, valtext)
    subprocess.run([sys.executable, __file__, "--sklearn-child", tmp, train, valtext], check=True)


def table(val):
    from sklearn.metrics import accuracy_score, f1_score

    truth, fields = [], []
    for line in open(val):
        r = json.loads(line)
        truth.append(r["label"])
        fields.append(set(r.get("fields") or [r["label"]]) | {r["label"]})
    n = len(truth)
    fields_seen = sorted(set(truth))
    head = ("model", "acc", "macroF1", "wF1", "fieldset", "train s", "pred/s", "trainRSS",
            "predRSS", "size MB")
    rows = []
    for line in sys.stdin:
        name, labels, tw, pw, trss, prss, size = line.rstrip("\n").split("|")
        pred = [l.rstrip("\n") for l in open(labels)]
        if len(pred) != n:
            rows.append((name, "error: %d predictions for %d records" % (len(pred), n)))
            continue
        acc = accuracy_score(truth, pred)
        # over the fields the slice has: an answer outside them ("Other", the
        # out-of-domain answer) is a miss of the true field, not a class
        mf1 = f1_score(truth, pred, labels=fields_seen, average="macro", zero_division=0)
        wf1 = f1_score(truth, pred, labels=fields_seen, average="weighted", zero_division=0)
        fs = sum(p in f for p, f in zip(pred, fields)) / n
        rows.append((name, "%.4f" % acc, "%.4f" % mf1, "%.4f" % wf1, "%.4f" % fs,
                     "%.1f" % float(tw), "%.0f" % (n / float(pw)), trss + " MB", prss + " MB",
                     "%.1f" % (int(size) / 1048576)))
    w = [max(len(str(r[i])) if i < len(r) else 0 for r in rows + [head]) for i in range(len(head))]
    print("  ".join(h.ljust(w[i]) for i, h in enumerate(head)))
    for r in rows:
        print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))
    print("(%d validation records; fastText predict and LinearSVC are single-threaded)" % n)


if __name__ == "__main__":
    if "--table" in sys.argv:
        table(sys.argv[sys.argv.index("--table") + 1])
    elif "--sklearn-child" in sys.argv:
        sklearn_child(*sys.argv[sys.argv.index("--sklearn-child") + 1:])
    else:
        peers(sys.argv)
