#!/usr/bin/env python3
"""make-input.py N SEED: synthetic arxiv-map records for the golden cases of
arxiv-stats (not real data): texts mixing what the statistics and the term
splitter tell apart -- blanks of every kind at every offset, UTF-8 of 2 to 4
bytes, JSON escapes, $...$ math, \\( \\[ \\begin{, TeX control words, words
past 32 letters, words running into non-ASCII letters, stop words, capitals,
duplicate ids and texts, several fields and categories, old and new ids."""
import json, random, sys

n, seed = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(seed)
words = ("quark gluon plasma energy measured graph theorem planar coloring neural network "
         "learning embedding the of and with for from into between Lagrangian Hamiltonian "
         "entanglement qubit spectral manifold cohomology stochastic gradient descent "
         "transformer attention lattice boson fermion").split()
odd = ["café", "naïve", "Schrödinger", "über", "日本語", "𝔽_q", "$x^2$", "$\\alpha+\\beta$",
       "\\(a\\)", "\\[b\\]", "\\begin{equation}", "\\cite{x}", "\\emph{strong}", "$",
       "a" * 33, "b" * 32, "Überraschung", "x2y", "THE", "Quark", "don't", "e.g.", "\\\\",
       "\"quoted\"", "tab\tbed", "cr\rlf\n", "  ", "\t\t", "co-operation", "well-known"]
fields = {"Physics": ["hep-ph", "hep-th", "quant-ph"], "Mathematics": ["math.CO", "math.AG"],
          "Computer Science": ["cs.LG", "cs.AI"], "Statistics": ["stat.ML"]}
texts, ids = [], []
for i in range(n):
    if texts and rnd.random() < 0.03:
        text = rnd.choice(texts)
    else:
        k = rnd.randint(0, 60)
        parts = [rnd.choice(odd) if rnd.random() < 0.2 else
                 "".join(rnd.choice("abcdefghijklmnopqrstuvwxyzAEIOU") for _ in range(rnd.randint(3, 12)))
                 if rnd.random() < 0.15 else rnd.choice(words) for _ in range(k)]
        text = "".join(p + rnd.choice([" ", " ", " ", "\n", "\t", ", ", ". ", "  "]) for p in parts)
        texts.append(text)
    label = rnd.choice(list(fields))
    cats = [rnd.choice(fields[label])]
    fl = [label]
    if rnd.random() < 0.3:
        other = rnd.choice(list(fields))
        cats.append(rnd.choice(fields[other]))
        fl.append(other)
    r = rnd.random()
    if r < 0.1:
        rid = "hep-th/%02d%02d%03d" % (rnd.choice([91, 95, 99, 0, 5]), rnd.randint(1, 12), i % 1000)
    elif r < 0.15:
        rid = "weird-%d" % i
    elif r < 0.18 and ids:
        rid = rnd.choice(ids)
    else:
        rid = "%02d%02d.%05d" % (rnd.randint(7, 26), rnd.randint(1, 12), i)
    ids.append(rid)
    rec = {"id": rid, "text": text, "label": label, "categories": cats, "fields": fl}
    if r > 0.9:
        rec["update_date"] = "20%02d-0%d-01" % (rnd.randint(0, 26), rnd.randint(1, 9))
    compact = (",", ":") if rnd.random() < 0.8 else None
    print(json.dumps(rec, ensure_ascii=rnd.random() < 0.5, separators=compact))
