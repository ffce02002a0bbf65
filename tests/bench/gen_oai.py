#!/usr/bin/env python3
"""Write an OAI-PMH ListRecords response in pages (arXiv metadata format) from
Kaggle-schema JSONL on stdin, for tests/bench/stats.sh's harvest benchmark:
    gen_oai.py DIR PER_PAGE < records.jsonl
DIR/page1.xml, DIR/t2.xml, ... chained by resumptionToken (fake_oai.py serves them)."""
import json
import os
import sys
from xml.sax.saxutils import escape

out, per = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">\n'
        '<responseDate>2026-12-06T03:15:02Z</responseDate>\n<request verb="ListRecords">x</request>\n<ListRecords>\n')


def record(r):
    authors = "".join("<author><keyname>%s</keyname><forenames>%s</forenames></author>"
                      % (escape(a[0]), escape(a[1])) for a in r.get("authors_parsed") or [])
    return ("<record><header><identifier>oai:arXiv.org:%s</identifier><datestamp>%s</datestamp></header>"
            "<metadata><arXiv xmlns=\"http://arxiv.org/OAI/arXiv/\"><id>%s</id><created>%s</created>"
            "<authors>%s</authors><title>%s</title><categories>%s</categories><abstract>%s</abstract>"
            "</arXiv></metadata></record>\n") % (
        escape(r["id"]), r.get("update_date", ""), escape(r["id"]), r.get("update_date", ""), authors,
        escape(r["title"]), escape(r["categories"]), escape(r["abstract"]))


recs = [json.loads(l) for l in sys.stdin]
pages = [recs[i:i + per] for i in range(0, len(recs), per)]
for k, page in enumerate(pages, 1):
    name = "page1.xml" if k == 1 else "t%d.xml" % k
    tok = "t%d" % (k + 1) if k < len(pages) else ""
    with open(os.path.join(out, name), "w") as f:
        f.write(HEAD)
        f.writelines(record(r) for r in page)
        f.write("</ListRecords>\n<resumptionToken>%s</resumptionToken>\n</OAI-PMH>\n" % tok)
