#!/usr/bin/env python3
"""bert_hf.py - the PyTorch + Hugging Face transformers side of tests/bench/bert.sh.

Subcommands (each prints one JSON object on stdout):
  init SIZE VOCAB OUTDIR            random BertForSequenceClassification of a bench
                                    size (tiny, small, base), seeded, saved as an HF
                                    folder (config.json, vocab.txt, model.safetensors)
  infer MODEL_DIR TEXTS SEQ_LEN [BATCH]
                                    inference samples/s (tokenisation included, batches
                                    padded to their longest, in input order), peak RSS
  train MODEL_DIR TEXTS LABELS SEQ_LEN [BATCH]
                                    one epoch of AdamW fine-tuning: samples/s, peak RSS
  load MODEL_DIR                    seconds for from_pretrained
  compare MODEL_DIR TEXTS EMBED_JSONL SEQ_LEN
                                    max |ours - HF| over the pooled outputs: BertModel's
                                    pooler_output (tanh pooler over the last [CLS]
                                    state), which is what arxiv-embed writes
"""
import json
import os
import resource
import sys
import time

import torch
from transformers import (BertConfig, BertForSequenceClassification, BertModel,
                          BertTokenizerFast)

SIZES = {
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37),
    "small": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}
LABELS = ["Biology", "Computer Science", "Economics", "Engineering", "Mathematics", "Physics"]


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f]


def init(size, vocab, out):
    os.makedirs(out, exist_ok=True)
    n = sum(1 for _ in open(vocab, encoding="utf-8"))
    torch.manual_seed(1)
    cfg = BertConfig(vocab_size=n, max_position_embeddings=512,
                     id2label={i: l for i, l in enumerate(LABELS)},
                     label2id={l: i for i, l in enumerate(LABELS)}, **SIZES[size])
    m = BertForSequenceClassification(cfg)
    m.save_pretrained(out, safe_serialization=True)
    with open(vocab, "rb") as f, open(os.path.join(out, "vocab.txt"), "wb") as g:
        g.write(f.read())
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "tokenizer_class": "BertTokenizer"}, f)
    return {"params": sum(p.numel() for p in m.parameters())}


def tokenizer(model_dir):
    return BertTokenizerFast(os.path.join(model_dir, "vocab.txt"), do_lower_case=True)


def infer(model_dir, texts_path, seq_len, batch=32):
    t0 = time.perf_counter()
    model = BertModel.from_pretrained(model_dir, add_pooling_layer=True)
    model.eval()
    tok = tokenizer(model_dir)
    load = time.perf_counter() - t0
    texts = lines(texts_path)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            enc = tok(texts[i:i + batch], truncation=True, max_length=seq_len, padding=True,
                      return_tensors="pt")
            model(**enc).pooler_output
    dt = time.perf_counter() - t0
    return {"samples_per_s": len(texts) / dt, "seconds": dt, "load_s": load,
            "peak_rss_mb": peak_rss_mb(), "threads": torch.get_num_threads()}


def train(model_dir, texts_path, labels_path, seq_len, batch=16):
    model = BertForSequenceClassification.from_pretrained(model_dir)
    model.train()
    tok = tokenizer(model_dir)
    texts, labels = lines(texts_path), [int(x) for x in lines(labels_path)]
    nodecay = ["bias", "LayerNorm.weight"]
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(k in n for k in nodecay)],
         "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in nodecay)],
         "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=5e-5)
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        enc = tok(texts[i:i + batch], truncation=True, max_length=seq_len, padding=True,
                  return_tensors="pt")
        out = model(**enc, labels=torch.tensor(labels[i:i + batch]) % model.num_labels)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
    dt = time.perf_counter() - t0
    return {"samples_per_s": len(texts) / dt, "seconds": dt, "peak_rss_mb": peak_rss_mb()}


def load(model_dir):
    t0 = time.perf_counter()
    BertForSequenceClassification.from_pretrained(model_dir)
    return {"load_s": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()}


def compare(model_dir, texts_path, emb_path, seq_len):
    model = BertModel.from_pretrained(model_dir)
    model.eval()
    tok = tokenizer(model_dir)
    texts = lines(texts_path)
    ours = [json.loads(l)["embedding"] for l in open(emb_path, encoding="utf-8")]
    assert len(ours) == len(texts), "line counts differ"
    worst = 0.0
    with torch.inference_mode():
        for t, e in zip(texts, ours):
            enc = tok(t, truncation=True, max_length=seq_len, return_tensors="pt")
            p = model(**enc).pooler_output[0]
            worst = max(worst, float((p - torch.tensor(e)).abs().max()))
    return {"texts": len(texts), "max_abs_diff": worst, "ok": worst <= 1e-4}


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "init":
        r = init(args[0], args[1], args[2])
    elif cmd == "infer":
        r = infer(args[0], args[1], int(args[2]), *(int(a) for a in args[3:4]))
    elif cmd == "train":
        r = train(args[0], args[1], args[2], int(args[3]), *(int(a) for a in args[4:5]))
    elif cmd == "load":
        r = load(args[0])
    elif cmd == "compare":
        r = compare(args[0], args[1], args[2], int(args[3]))
    else:
        sys.exit(f"unknown command {cmd}")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
