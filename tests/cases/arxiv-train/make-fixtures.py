#!/usr/bin/env python3
"""Make the fixtures of tests/arxiv-train.bats and tests/arxiv-predict.bats
(run once, output committed): arxiv-map style JSONL (id, text, label,
categories, fields) for three fields whose vocabularies are disjoint apart from
a few shared words, so a tiny fast model learns them in a few epochs:
train.jsonl (150), val.jsonl (30), test.jsonl (30), and abstracts.txt /
papers.jsonl (raw input for arxiv-predict, as users would give it)."""
import json
import random

VOCAB = {
    "Computer Science": ("cs.LG", "algorithm compiler network software dataset neural training "
                         "inference kernel database protocol parser cache scheduler"),
    "Mathematics": ("math.AG", "theorem lemma manifold algebra topology homology integer prime "
                    "polynomial conjecture sheaf morphism cohomology functor"),
    "Physics": ("hep-th", "quantum particle photon laser plasma energy momentum spin "
                "electron boson fermion entropy neutrino gravity"),
}
SHARED = "we show that new results method approach model study".split()
rng = random.Random(4242)


def text(label, n=16):
    words = VOCAB[label][1].split()
    body = [rng.choice(words) if rng.random() < 0.6 else rng.choice(SHARED) for _ in range(n)]
    title = " ".join(rng.choice(words) for _ in range(3)).capitalize()
    return title, "We " + " ".join(body) + "."


def records(n, start):
    out = []
    labels = list(VOCAB)
    for i in range(n):
        lab = labels[i % 3]
        t, a = text(lab)
        out.append({"id": "2601.%05d" % (start + i), "text": t + "\n" + a, "label": lab,
                    "categories": [VOCAB[lab][0]], "fields": [lab]})
    return out


def dump(name, recs):
    with open(name, "w") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")


dump("train.jsonl", records(150, 1))
dump("val.jsonl", records(30, 1001))
dump("test.jsonl", records(30, 2001))
with open("abstracts.txt", "w") as f:
    for lab in VOCAB:
        f.write(text(lab)[1] + "\n")
with open("papers.jsonl", "w") as f:
    for lab in VOCAB:
        t, a = text(lab)
        f.write(json.dumps({"title": t, "abstract": a}) + "\n")
