#!/usr/bin/env python3
"""Make the synthetic fixtures of tests/arxiv-eval.bats (run once, output committed).

Three fields with disjoint vocabularies, so any sane model separates them
perfectly: train.jsonl and val.jsonl (arxiv-map output: id, text, label,
categories, fields), test.jsonl whose last records are cross-listed papers
*labelled* with their other field (the text is of the first), so the report has
misses that are still field-set hits, and raw.jsonl in the Kaggle schema for the
man page example through arxiv-map.
"""
import json
import random

VOCAB = {
    "Computer Science": ("cs.LG", "algorithm compiler network software dataset neural training "
                         "inference kernel database protocol parser cache scheduler encryption "
                         "benchmark transformer classifier runtime bytecode"),
    "Mathematics": ("math.AG", "theorem lemma manifold algebra topology homology integer prime "
                    "polynomial conjecture sheaf morphism cohomology lattice ideal scheme "
                    "eigenvalue functor group ring"),
    "Physics": ("physics.optics", "quantum particle photon laser plasma energy momentum spin "
                "electron boson fermion entropy thermal magnetic lattice-vibration "
                "scattering detector neutrino gravity wave"),
}
LABELS = list(VOCAB)
rng = random.Random(20261125)


def text(label, n=14):
    words = VOCAB[label][1].split()
    title = " ".join(rng.choice(words) for _ in range(4)).capitalize()
    abstract = "We study " + " ".join(rng.choice(words) for _ in range(n)) + "."
    return title, abstract


def rec(i, label, fields=None, text_of=None):
    title, abstract = text(text_of or label)
    fields = fields or [label]
    return {"id": "2601.%05d" % i, "text": title + "\n" + abstract, "label": label,
            "categories": [VOCAB[f][0] for f in fields], "fields": fields}


def write(name, recs):
    with open(name, "w") as f:
        for r in recs:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")


n = 0
train, val, test = [], [], []
for i in range(40):
    for lab in LABELS:
        n += 1
        train.append(rec(n, lab))
for i in range(6):
    for lab in LABELS:
        n += 1
        val.append(rec(n, lab))
for i in range(4):
    for lab in LABELS:
        n += 1
        test.append(rec(n, lab))
# cross-listed, correctly labelled (a hit)
for a, b in (("Computer Science", "Mathematics"), ("Physics", "Mathematics")):
    n += 1
    test.append(rec(n, a, [a, b]))
# cross-listed, labelled with the other field: a miss, but a field-set hit
for a, b in (("Mathematics", "Computer Science"), ("Physics", "Computer Science"),
             ("Mathematics", "Physics")):
    n += 1
    test.append(rec(n, b, [b, a], text_of=a))
write("train.jsonl", train)
write("val.jsonl", val)
write("test.jsonl", test)
with open("raw.jsonl", "w") as f:
    for r in test[:6]:
        title, abstract = r["text"].split("\n", 1)
        f.write(json.dumps({"id": r["id"], "title": title, "abstract": abstract,
                            "categories": " ".join(r["categories"])}) + "\n")
