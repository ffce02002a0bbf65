#!/usr/bin/python3
"""nltk_clean.py - the seed's cleaning pipeline in Python, for the benchmark.

Reads JSONL on stdin, cleans the "text" field (--field) as the seed did:
NFKC, characters other than letters/digits/whitespace to spaces, collapse
whitespace, lowercase, NLTK word tokenisation, English stop words (NLTK
corpus), WordNet lemmatisation; writes one cleaned text per line.

Runs on Debian's python3-nltk with the WordNet data of Debian's wordnet
package: --nltk-data DIR must hold corpora/wordnet (the files of
/usr/share/wordnet plus lexnames) and corpora/stopwords/english; clean.sh
builds such a directory in a temporary folder.
"""
import argparse
import json
import re
import sys
import unicodedata


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--field", default="text")
    ap.add_argument("--nltk-data", required=True)
    ap.add_argument("--truncate", type=int, default=0)
    a = ap.parse_args()

    import nltk
    nltk.data.path.insert(0, a.nltk_data)
    from nltk.corpus import stopwords
    from nltk.stem import WordNetLemmatizer
    from nltk.tokenize import word_tokenize

    stop = set(stopwords.words("english"))
    lem = WordNetLemmatizer()
    nonword = re.compile(r"[^\w\s]|_")
    blank = re.compile(r"\s+")
    out = sys.stdout
    for line in sys.stdin:
        text = json.loads(line)[a.field]
        text = unicodedata.normalize("NFKC", text)
        text = nonword.sub(" ", text)
        text = blank.sub(" ", text).strip().lower()
        words = word_tokenize(text, preserve_line=True)
        words = [lem.lemmatize(w) for w in words if w not in stop]
        text = " ".join(words)
        if a.truncate:
            text = text[: a.truncate]
        out.write(text + "\n")


if __name__ == "__main__":
    main()
