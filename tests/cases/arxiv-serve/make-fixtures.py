#!/usr/bin/env python3
"""Write train.jsonl and val.jsonl: made-up abstracts for six fields in the
shape of arxiv-map's output (id, text = title + "\\n" + abstract, label,
categories, fields). Each field draws from its own small vocabulary plus
common words, so any sane model separates them; nothing here is real data.
Run from this directory; the output is deterministic (seed 6)."""
import json
import random

rng = random.Random(6)
W = {
    "Computer Science": ("cs.LG", "neural network graph algorithm learning training dataset transformer "
                         "compiler software distributed scalable benchmark deep model inference gpu code "
                         "programs"),
    "Mathematics": ("math.AG", "theorem prove lemma conjecture manifold algebraic group ring topology "
                    "curvature bounded integer prime cohomology polynomial operator"),
    "Physics": ("hep-th", "quantum field energy particle spin magnetic lattice gauge photon laser plasma "
                "dark matter cosmological gravitational wave"),
    "Biology": ("q-bio.GE", "protein gene cell genome species evolution neuron tissue dna rna expression "
                "population mutation enzyme microbial"),
    "Economics": ("econ.EM", "market price labor policy firms trade welfare auction consumer monetary "
                  "inflation equilibrium wage tax household"),
    "Statistics": ("stat.ME", "estimator regression bayesian variance sampling likelihood posterior "
                   "inference bootstrap hypothesis covariance prior confidence interval nonparametric"),
}
COMMON = "we study a new approach and show results for the problem with data in this paper our method".split()


def text(words):
    title = " ".join(w.capitalize() for w in rng.sample(words, 4))
    body = [rng.choice(words) if rng.random() < 0.55 else rng.choice(COMMON)
            for _ in range(rng.randrange(25, 45))]
    return title + "\n" + " ".join(body).capitalize() + "."


n = 0
# drawn 40 and 10 per field, kept 25 and 5 (the first of each field in shuffled order)
for name, per, keep in (("train.jsonl", 40, 25), ("val.jsonl", 10, 5)):
    recs = []
    for label, (cat, words) in W.items():
        for _ in range(per):
            n += 1
            recs.append({"id": "9901.%05d" % n, "text": text(words.split()), "label": label,
                         "categories": [cat], "fields": [label]})
    rng.shuffle(recs)
    count = {}
    with open(name, "w") as f:
        for r in recs:
            count[r["label"]] = count.get(r["label"], 0) + 1
            if count[r["label"]] <= keep:
                f.write(json.dumps(r, separators=(",", ":")) + "\n")
