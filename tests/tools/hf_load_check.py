#!/usr/bin/env python3
"""hf_load_check.py - load arxiv-train's bert artifacts with Hugging Face
transformers and compare its outputs with ours.

usage: hf_load_check.py ARTIFACTS TEXTS PREDICT_JSONL EMBED_JSONL

Loads ARTIFACTS/model with BertForSequenceClassification.from_pretrained and
ARTIFACTS/tokenizer with BertTokenizer, runs every line of TEXTS, and checks
that arxiv-predict's top label and scores (PREDICT_JSONL) and arxiv-embed's
pooled vectors (EMBED_JSONL) agree with transformers' (scores to 1e-3, as
arxiv-predict prints 4 decimals; vectors to 1e-4). Prints one summary line;
exit 0 when they agree, 1 otherwise, 77 when torch/transformers are missing.
"""
import json
import sys

try:
    import torch
    from transformers import BertForSequenceClassification, BertTokenizer
except ImportError as e:  # pragma: no cover
    print(f"skip: {e}")
    sys.exit(77)


def main():
    art, texts_path, pred_path, emb_path = sys.argv[1:5]
    model = BertForSequenceClassification.from_pretrained(f"{art}/model")
    model.eval()
    tok = BertTokenizer.from_pretrained(f"{art}/tokenizer")
    pre = json.load(open(f"{art}/tokenizer/preprocess.json"))
    seq_len = pre["tok"]["seq_len"] if "tok" in pre else pre["seq_len"]  # older flat schema
    texts = open(texts_path, encoding="utf-8").read().splitlines()
    preds = [json.loads(l) for l in open(pred_path, encoding="utf-8")]
    embs = [json.loads(l)["embedding"] for l in open(emb_path, encoding="utf-8")]
    assert len(texts) == len(preds) == len(embs), "line counts differ"
    worst_p = worst_e = 0.0
    bad_label = 0
    with torch.no_grad():
        for t, p, e in zip(texts, preds, embs):
            enc = tok(t, truncation=True, max_length=seq_len, return_tensors="pt")
            out = model(**enc, output_hidden_states=True)
            prob = torch.softmax(out.logits[0], -1)
            pooled = model.bert.pooler(out.hidden_states[-1])[0]
            best = int(prob.argmax())
            if model.config.id2label[best] != p["predicted_category"]:
                bad_label += 1
            for k in p["top_k"]:
                i = model.config.label2id[k["label"]]
                worst_p = max(worst_p, abs(float(prob[i]) - k["score"]))
            worst_e = max(worst_e, float((pooled - torch.tensor(e)).abs().max()))
    ok = bad_label == 0 and worst_p <= 1e-3 and worst_e <= 1e-4
    print(f"{'ok' if ok else 'MISMATCH'}: {len(texts)} texts, label mismatches {bad_label}, "
          f"max score diff {worst_p:.2g}, max pooled diff {worst_e:.2g}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
