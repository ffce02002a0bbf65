#!/usr/bin/env python3
"""hf_bench.py - the Hugging Face side of tests/gpu/run.sh.

  hf_bench.py speed  --config config.json --vocab vocab.txt --texts texts.txt
                     --device cuda --attn sdpa --batch 32 --seq 256 --steps 50
      training (AdamW, autocast bf16/fp16 on a GPU) and inference samples/s of a
      randomly initialised BertForSequenceClassification, and peak GPU memory.
  hf_bench.py finetune --init DIR --train train.jsonl --test test.jsonl
                     --labels labels.txt --device cuda --epochs 1 --batch 32 --seq 256
      fine-tunes a checkpoint folder (e.g. all-MiniLM-L6-v2) as arxiv-train
      -i does (lr 5e-5, weight decay 0.01, warmup 0.1, linear decay, clip 1.0)
      and prints the test accuracy.
Prints one JSON object on stdout. Batches are padded to their longest text,
as arxiv-train's are.
"""
import argparse
import contextlib
import json
import random
import sys
import time

import torch
from transformers import (BertConfig, BertForSequenceClassification, BertTokenizerFast,
                          get_linear_schedule_with_warmup)


def amp_dtype(dev, precision):
    if dev.type != "cuda" or precision == "fp32":
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def autocast(dev, dt):
    return torch.autocast(dev.type, dtype=dt) if dt is not None else contextlib.nullcontext()


def batches(tok, texts, bs, seq, dev):
    for i in range(0, len(texts) - bs + 1, bs):
        enc = tok(texts[i:i + bs], truncation=True, max_length=seq, padding="longest",
                  return_tensors="pt")
        yield {k: v.to(dev, non_blocking=True) for k, v in enc.items()}


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def speed(a):
    dev = torch.device(a.device)
    cfg = BertConfig.from_json_file(a.config)
    cfg.num_labels = 7
    attn = a.attn or "eager"
    try:
        model = BertForSequenceClassification._from_config(cfg, attn_implementation=attn)
    except (ValueError, TypeError, ImportError) as e:  # an older transformers: BERT has eager only
        print(f"hf_bench.py: attention {attn}: {e}; using eager", file=sys.stderr)
        attn = "eager (%s unsupported)" % attn
        model = BertForSequenceClassification(cfg)
    model = model.to(dev)
    tok = BertTokenizerFast(vocab_file=a.vocab, do_lower_case=True)
    texts = [l.rstrip("\n") for l in open(a.texts, encoding="utf-8") if l.strip()]
    need = a.batch * (a.steps + a.warmup)
    texts = (texts * (need // max(1, len(texts)) + 1))[:need]
    dt = amp_dtype(dev, a.precision)
    scaler = torch.cuda.amp.GradScaler(enabled=dt == torch.float16)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01,
                            **({"fused": True} if dev.type == "cuda" else {}))
    model.train()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    n = 0
    t0 = None
    for i, b in enumerate(batches(tok, texts, a.batch, a.seq, dev)):
        if i == a.warmup:
            sync(dev)
            t0 = time.perf_counter()
        y = torch.randint(0, 7, (b["input_ids"].shape[0],), device=dev)
        with autocast(dev, dt):
            loss = model(**b, labels=y).loss
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        if i >= a.warmup:
            n += b["input_ids"].shape[0]
    sync(dev)
    train_sps = n / (time.perf_counter() - t0)
    train_mem = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else 0
    model.eval()
    n = 0
    with torch.inference_mode():
        for i, b in enumerate(batches(tok, texts, a.batch, a.seq, dev)):
            if i == a.warmup:
                sync(dev)
                t0 = time.perf_counter()
            with autocast(dev, dt):
                model(**b).logits.float().argmax(-1).cpu()
            if i >= a.warmup:
                n += b["input_ids"].shape[0]
    sync(dev)
    infer_sps = n / (time.perf_counter() - t0)
    return {"attn": attn, "train_samples_per_s": train_sps,
            "infer_samples_per_s": infer_sps, "peak_mem_mib": train_mem,
            "precision": str(dt).replace("torch.", "") if dt else "fp32"}


def finetune(a):
    dev = torch.device(a.device)
    labels = [l.rstrip("\n") for l in open(a.labels, encoding="utf-8") if l.strip()]
    lid = {l: i for i, l in enumerate(labels)}

    def load(path):
        xs, ys = [], []
        for line in open(path, encoding="utf-8"):
            r = json.loads(line)
            if r.get("label") in lid:
                xs.append(r["text"])
                ys.append(lid[r["label"]])
        return xs, ys

    trx, tr_y = load(a.train)
    tex, te_y = load(a.test)
    tok = BertTokenizerFast.from_pretrained(a.init)
    model = BertForSequenceClassification.from_pretrained(a.init, num_labels=len(labels),
                                                          ignore_mismatched_sizes=True).to(dev)
    dt = amp_dtype(dev, a.precision)
    scaler = torch.cuda.amp.GradScaler(enabled=dt == torch.float16)
    nodecay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(nodecay)],
         "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if n.endswith(nodecay)],
         "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=a.lr, eps=1e-8)
    steps = a.epochs * (len(trx) // a.batch)
    sched = get_linear_schedule_with_warmup(opt, int(0.1 * steps), steps)
    rng = random.Random(a.seed)
    torch.manual_seed(a.seed)
    t0 = time.perf_counter()
    for _ in range(a.epochs):
        order = list(range(len(trx)))
        rng.shuffle(order)
        model.train()
        for i in range(0, len(order) - a.batch + 1, a.batch):
            ix = order[i:i + a.batch]
            b = tok([trx[j] for j in ix], truncation=True, max_length=a.seq, padding="longest",
                    return_tensors="pt").to(dev)
            y = torch.tensor([tr_y[j] for j in ix], device=dev)
            with autocast(dev, dt):
                loss = model(**b, labels=y).loss
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(opt)
            scaler.update()
            sched.step()
            opt.zero_grad(set_to_none=True)
    sync(dev)
    secs = time.perf_counter() - t0
    model.eval()
    right = 0
    with torch.inference_mode():
        for i in range(0, len(tex), 64):
            b = tok(tex[i:i + 64], truncation=True, max_length=a.seq, padding="longest",
                    return_tensors="pt").to(dev)
            with autocast(dev, dt):
                p = model(**b).logits.float().argmax(-1).cpu().tolist()
            right += sum(int(x == y) for x, y in zip(p, te_y[i:i + 64]))
    return {"test_accuracy": right / max(1, len(tex)), "n_train": len(trx), "n_test": len(tex),
            "train_seconds": secs}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["speed", "finetune"])
    ap.add_argument("--config")
    ap.add_argument("--vocab")
    ap.add_argument("--texts")
    ap.add_argument("--init")
    ap.add_argument("--train")
    ap.add_argument("--test")
    ap.add_argument("--labels")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--attn", default="")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    out = speed(a) if a.mode == "speed" else finetune(a)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
