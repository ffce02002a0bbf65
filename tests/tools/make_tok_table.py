#!/usr/bin/env python3
"""make_tok_table.py - expected BERT token ids from Hugging Face, for arxiv-tok's tests.

Writes tests/cases/arxiv-tok/expected.jsonl: one JSON object per line,
{"vocab": "tiny"|"scibert", "lower": bool, "seq_len": N, "text": "...", "ids": [...]}
where ids are the unpadded ids (with [CLS] and [SEP]) that the slow, Python
BertTokenizer(vocab.txt, do_lower_case=lower) gives with truncation to seq_len.
tests/unit/test_wordpiece.c checks arxiv_tok_encode against every line.

Run with the venv that has transformers (the table is committed, so tests
do not need it):
    /opt/hfvenv/bin/python tests/tools/make_tok_table.py            # regenerate
    /opt/hfvenv/bin/python tests/tools/make_tok_table.py --compare 2000
        # compare arxiv-tok with BertTokenizer on 2000 real abstracts
    /opt/hfvenv/bin/python tests/tools/make_tok_table.py --fuzz 5000
        # ... and on 5000 random strings of tricky characters
--compare/--fuzz need $ARXIV_BUILD/bin/arxiv-tok (default build/) and
$ARXIV_SHARED (default ../shared) for the SciBERT vocabulary and data.
"""
import argparse
import gzip
import json
import os
import random
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASES = os.path.join(TOP, "tests", "cases", "arxiv-tok")
SHARED = os.environ.get("ARXIV_SHARED", os.path.join(TOP, "..", "shared"))
SCIBERT = os.path.join(SHARED, "vocab", "scibert_scivocab_uncased.vocab.txt")
TINY = os.path.join(CASES, "vocab.txt")

ABSTRACT = (
    "We study the convergence of stochastic gradient descent (SGD) for deep neural "
    "networks with ReLU activations. Our main result shows that, with probability "
    "at least $1-\\delta$, the iterates reach an $\\epsilon$-stationary point after "
    "$O(\\epsilon^{-4}\\log(1/\\delta))$ steps. Experiments on CIFAR-10 and ImageNet "
    "confirm the theory; code is available at https://github.com/example/sgd. "
)

# (text, seq_len) pairs: every rule of BasicTokenizer and WordPiece, and the odd corners.
CASES_TEXT = [
    "Hello, World!",
    "The quick brown fox jumps over the lazy dog.",
    "unaffable tokenizers tokenize the graphs",
    "Café naïve résumé Ångström Übermaß Dvořák Erdős Schrödinger Gödel",
    "İstanbul İ i̇ I ı",
    "ẞ STRASSE Straße ß",
    "ΟΔΟΣ ΣΟΦΟΣ Σ σς ΣΑΣ Σ. ας",
    "ǅemal ǈ ǋ Ǳ",
    "K Å Ω \u212a \u212b \u2126 µ",
    "a.b,c;d:e!f?g(h)i[j]k{l}m<n>o=p+q-r*s/t\\u|v~w^x`y'z\"$%&#@_",
    "\u201cquoted\u201d \u2014 dash \u2013 and\u2026 \u00abguillemets\u00bb \u00bfqu\u00e9? \u00a1s\u00ed! \u00a7 \u00b6 \u2020",
    "\u00b1\u00d7\u00f7\u2192\u221e\u2211\u222b \u2264 \u2265 \u2248 \u00b0C \u20ac100 \u00a3 \u00a5",
    "2023 3.14159 1e-10 10^{-3} 12,345 0x1F 1st 2nd \u00bd \u00b2 \u2460 \u0663\u0664",
    "a" * 101,
    "b" * 100,
    "x" * 150 + ".",
    "supercalifragilisticexpialidocious " * 3,
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "\u00e9" * 100 + " " + "\u00e9" * 101 + " " + "e\u0301" * 101,
    "\u4e2d\u6587\u5b57\u7b26 and \u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 and \ud55c\uad6d\uc5b4",
    "abc\u4e2ddef \u4e2d\u6587 \uf900\ufa0e \U00020000x \U0002b739 \u3400",
    "\U0001f680 rockets \U0001f600\U0001f600 \U0001f44d\U0001f3fd family \U0001f468\u200d\U0001f469\u200d\U0001f467",
    "new emoji \U0001fae8 shaking \U0001fa77 pink heart \U00011f00 kawi",
    "tab\there\nnewline\r\nCRLF\x0bvt\x0cff\x1fus\x7fdel\x00nul\u0085nel\u200bzwsp\ufeffbom\ufffdrepl",
    "\u00a0nbsp\u2003emspace\u3000ideographic\u2028linesep\u2029parasep\u202fnnbsp\u1680ogham",
    "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440, \u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u03ba\u03cc\u03c3\u03bc\u03b5, "
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645, \u05e9\u05dc\u05d5\u05dd, "
    "\u0928\u092e\u0938\u094d\u0924\u0947, \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35",
    "We prove $\\alpha \\in \\mathbb{R}^n$ and \\emph{strong} {\\em convergence} of "
    "$O(n \\log n)$ with $\\sum_{i=1}^{N} x_i^2$ and \\cite{foo2020}.",
    "the [CLS] token and [MASK] and [mask] and [SEP][PAD] [UNK]x and [CLS and x[CLS]y [[SEP]]",
    "[cls] [Cls] [CL\x00S] [CL\u200bS] [UN\u212a] \u0130 [MASK]\u0301",
    "e\u0301 a\u0308 \u0301alone n\u0303 x\u20d7 vector q\u0323\u0307 \u0301\u0302",
    "co\u00adoperate soft\u00adhyphen zero\u200cwidth non\u200djoiner",
    "\uff21\uff22\uff23\uff11\uff12\uff13 \ufb01nance \ufb02ow \u2163 \u33a1",
    "\U0001d431 \U0001d53d \u211d \u2115 \u2102 \u210f \u2202f",
    "private \ue000use \U000e0001tag \U0010fffd plane16",
    "",
    "   ",
    "\x01\x02\x03",
    "don't it's O'Neil's rock'n'roll \u2019s",
    "https://arxiv.org/abs/2101.00001v2 e-mail: foo@bar.com #hashtag ##double ###",
    "H$_2$O CO\u2082 Fe\u00b3\u207a \u2070\u00b9 \u2081\u2082 \u00c5\u00e5",
    "\u1e9e\u1e9e \u0130\u0130 \u03a3\u03a3\u03a3 \u1f88 \u1fbc \u0149 \u01f0",
    "Ｈｅｌｌｏ\u3002\u3001\uff01\uff1f \u300c\u300d \u3010\u3011",
    "\u0e01\u0e32\u0e23 \u0915\u094d\u0937 \u0d15\u0d4d\u0d37 \u1100\u1161\u11a8 \uac01",
    "mixedCASE CamelCase ALLCAPS lowercase MiXeD",
    "numbers123abc 123abc abc123 a1b2c3 3.0.1-beta+exp.sha.5114f85",
]

LONG_CASES = [
    (ABSTRACT * 8, 16),
    (ABSTRACT * 8, 64),
    (ABSTRACT * 8, 256),
    (ABSTRACT * 8, 512),
    ("word " * 300, 256),
    ("a b c", 3),
    ("a b c", 4),
    ("a b c", 5),
    ("supercalifragilisticexpialidocious", 4),
    ("x [CLS] y", 3),
]

CASED_TEXT = [
    "Hello World THE the",
    "Café naïve É é e\u0301 E\u0301",
    "[CLS] [CL\x00S] [UN\u212a] [MASK]",
    "\u212b \u2126 \u212a K",
    "ΟΔΟΣ ς σ",
]


def hf(vocab, lower):
    from transformers import BertTokenizer
    return BertTokenizer(vocab, do_lower_case=lower)


def encode(tok, text, seq_len):
    return tok.encode(text, add_special_tokens=True, truncation=True, max_length=seq_len)


def make_table(out):
    import transformers
    tiny = hf(TINY, True)
    tiny_cased = hf(TINY, False)
    sci = hf(SCIBERT, True) if os.path.exists(SCIBERT) else None
    if sci is None:
        sys.exit("make_tok_table: %s not found (set ARXIV_SHARED)" % SCIBERT)
    rows = []
    for name, tok in (("tiny", tiny), ("scibert", sci)):
        for text in CASES_TEXT:
            rows.append((name, True, 64, text, encode(tok, text, 64)))
        for text, n in LONG_CASES:
            rows.append((name, True, n, text, encode(tok, text, n)))
    for text in CASED_TEXT + CASES_TEXT[:12]:
        rows.append(("tiny", False, 64, text, encode(tiny_cased, text, 64)))
    with open(out, "w", encoding="utf-8") as f:
        for name, lower, n, text, ids in rows:
            f.write(json.dumps({"vocab": name, "lower": lower, "seq_len": n,
                                "text": text, "ids": ids}, ensure_ascii=True) + "\n")
    print("wrote %d cases to %s (transformers %s)" % (len(rows), out, transformers.__version__))


def arxiv_tok_ids(texts, vocab, seq_len):
    """ids from arxiv-tok | arxiv-tok -d (records without labels)."""
    build = os.environ.get("ARXIV_BUILD", os.path.join(TOP, "build"))
    tok = os.path.join(build, "bin", "arxiv-tok")
    inp = "".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts))
    enc = subprocess.run([tok, "-k", "-n", str(seq_len), "-v", vocab], input=inp.encode(),
                         stdout=subprocess.PIPE, check=True)
    dec = subprocess.run([tok, "-d"], input=enc.stdout, stdout=subprocess.PIPE, check=True)
    got = {}
    for line in dec.stdout.decode().splitlines():
        rid, _label, ids = line.split("\t")
        got[int(rid)] = [int(x) for x in ids.split()]
    return got


def compare(texts, seq_len, what):
    tok = hf(SCIBERT, True)
    got = arxiv_tok_ids(texts, SCIBERT, seq_len)
    bad = 0
    skipped = 0
    for i, t in enumerate(texts):
        want = encode(tok, t, seq_len)
        if i not in got:
            skipped += 1	# arxiv-tok refused the record (e.g. empty text)
            if len(want) > 2:
                bad += 1
                print("refused but HF tokenises: %r" % t[:200])
            continue
        if got[i] != want:
            bad += 1
            if bad <= 10:
                print("MISMATCH %d: %r\n  hf:   %s\n  ours: %s" % (i, t[:300], want, got[i]))
    print("%s: %d texts, %d mismatches (%d refused as empty)" % (what, len(texts), bad, skipped))
    return bad


def real_texts(n):
    texts = []
    for part in range(4):
        path = os.path.join(SHARED, "data", "arxiv-part-00%d.jsonl.gz" % part)
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                texts.append(r["title"] + "\n" + r["abstract"])
                if len(texts) >= n:
                    return texts
    return texts


POOL = (list("abcxyzABCXYZ019 .,;:!?-_'\"()[]{}<>#$%&*+/\\^`|~@\t\n\r")
        + ["[CLS]", "[MASK]", "[SEP]", "[UNK]", "[PAD]", "##", "the", "ing"]
        + [chr(c) for c in (0x01, 0x7f, 0x85, 0xa0, 0xad, 0xe9, 0xc9, 0x130, 0x131,
                            0x1e9e, 0xdf, 0x3a3, 0x3c2, 0x301, 0x308, 0x323, 0x20d7, 0x200b,
                            0x200d, 0x2028, 0x2029, 0x3000, 0x2003, 0xfeff, 0xfffd, 0x4e2d,
                            0xf900, 0x3042, 0xac00, 0x1100, 0x1161, 0x11a8, 0x212a, 0x212b,
                            0x2126, 0xfb01, 0xff21, 0x2019, 0x201c, 0x2014, 0x2026, 0xb1,
                            0x2192, 0x1f600, 0x1f3fd, 0x1fae8, 0x11f00, 0xe000, 0xe0001,
                            0x1d431, 0x0915, 0x094d, 0x0e01, 0x0e31, 0x05d0, 0x0627, 0x064b,
                            0x1715, 0x302e, 0x302f, 0x1d165, 0x1d16d, 0x0345, 0x1f88, 0x2b739)])


def fuzz_texts(n, seed=1):
    rnd = random.Random(seed)
    return [rnd.choice(["x", ""]) + "".join(rnd.choice(POOL) for _ in range(rnd.randint(1, 40)))
            for _ in range(n)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--compare", type=int, metavar="N", help="compare on N real abstracts")
    ap.add_argument("--fuzz", type=int, metavar="N", help="compare on N random strings")
    ap.add_argument("-n", type=int, default=256, help="seq_len for --compare/--fuzz")
    ap.add_argument("-o", default=os.path.join(CASES, "expected.jsonl"))
    a = ap.parse_args()
    bad = 0
    if a.compare:
        bad += compare(real_texts(a.compare), a.n, "real abstracts")
    if a.fuzz:
        bad += compare(fuzz_texts(a.fuzz), a.n, "random strings")
    if not a.compare and not a.fuzz:
        make_table(a.o)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
