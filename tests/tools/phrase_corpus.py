#!/usr/bin/env python3
"""phrase_corpus.py - a deterministic arxiv-map style corpus whose texts are
runs of fixed phrases per field joined by a few
function words, so their words and word pairs recur the way
an abstract's do (the domain check needs >= 1000 training texts). Every
fourth text mixes two fields and lists both in "fields".

    phrase_corpus.py N SEED > out.jsonl
"""
import json
import sys

PHRASES = {
    "Mathematics": ["Banach manifolds", "Hilbert spaces", "prove lemmas", "compact operators",
                    "Sobolev embeddings", "elliptic regularity", "prime numbers",
                    "sheaf cohomology"],
    "Computer Science": ["neural networks", "training datasets", "GPU kernels",
                         "gradient descent", "compiler passes", "transformer models",
                         "graph algorithms", "distributed systems"],
    "Physics": ["spin chains", "quark gluon plasma", "dark matter halos", "laser cooling",
                "Hamiltonian dynamics", "neutrino oscillations", "magnetic fields",
                "black holes"],
}
LABELS = list(PHRASES)
GLUE = ["and", "on", "of the", "with", "for", "in", "we prove", "and the", "on the", "we study"]


def main():
    n, seed = int(sys.argv[1]), int(sys.argv[2])
    state = seed

    def rnd(k):
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (state >> 33) % k

    for i in range(n):
        label = LABELS[i % 3]
        other = LABELS[(i + 1) % 3]
        mix = i % 4 == 3
        words = ["We", "study"]
        for j in range(10):
            f = other if mix and j % 2 else label
            if j:
                words.append(GLUE[rnd(len(GLUE))])
            words.append(PHRASES[f][rnd(len(PHRASES[f]))])
        fields = [label, other] if mix else [label]
        print(json.dumps({"id": "p%d" % i, "text": "Title %d\n%s." % (i, " ".join(words)),
                          "label": label, "fields": fields}, separators=(",", ":")))


main()
