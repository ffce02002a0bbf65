#!/usr/bin/env python3
"""make_tiny_bert.py - build the tiny random BERT fixture of tests/fixtures/tiny-bert.

A BertForSequenceClassification with 2 layers, hidden 32, 4 heads, intermediate
37 and a 160-piece WordPiece vocabulary, randomly initialised with a fixed seed,
saved the way Hugging Face saves it (config.json, vocab.txt, model.safetensors,
and pytorch_model.bin in torch.save's zip format), plus reference.json: the
token ids Hugging Face's BertTokenizer gives for a few texts and the logits,
pooled output and last hidden state of [CLS] that transformers computes for
them in eval mode, each text alone and all of them in one padded batch.

Run once with a Python that has torch and transformers, e.g.
    /opt/bertvenv/bin/python tests/tools/make_tiny_bert.py tests/fixtures/tiny-bert
The output is committed; the C tests compare libarxiv's forward pass with it.
"""
import json
import os
import sys

import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

WORDS = """the of and in to we is for that on with are this by be an as it our
model models quantum graph graphs neural network networks theory field fields energy
algorithm algorithms data learning prove show new method paper results spin
black hole galaxy star stars protein cell market price equation equations space
time group groups random matrix deep language training optimal control finite
linear nonlinear""".split()
SUFFIX = "ing ed ly er al ic ation ity ize".split()
LABELS = ["Computer Science", "Mathematics", "Physics"]
TEXTS = [
    "We prove a new theorem on random graphs.",
    "Deep neural networks for language models",
    "Black hole entropy and the energy of quantum fields in curved space-time.",
    "Protein-cell markets: optimal price control!",
    "",
    "Naïve Équations – LINEAR algebra, groups & matrices (2024)",
]


def vocab():
    v = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    v += list(".,;:!?()-&'\"0123456789")
    v += [chr(c) for c in range(ord("a"), ord("z") + 1)]
    v += ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    v += WORDS
    v += ["##" + s for s in SUFFIX]
    return v


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/tiny-bert"
    os.makedirs(out, exist_ok=True)
    pieces = vocab()
    assert len(pieces) == len(set(pieces))
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(pieces) + "\n")
    torch.manual_seed(20261125)
    cfg = BertConfig(vocab_size=len(pieces), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=4, intermediate_size=37, max_position_embeddings=64,
                     type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12,
                     id2label={i: l for i, l in enumerate(LABELS)},
                     label2id={l: i for i, l in enumerate(LABELS)})
    model = BertForSequenceClassification(cfg)
    # Random init gives zero biases and unit LayerNorms; perturb every tensor
    # so that the test sees each one (a forgotten bias would go unnoticed).
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    torch.save(model.state_dict(), os.path.join(out, "pytorch_model.bin"))
    tok = BertTokenizer(os.path.join(out, "vocab.txt"), do_lower_case=True)
    seq_len = 24
    cases = []
    with torch.no_grad():
        for t in TEXTS:
            enc = tok(t, truncation=True, max_length=seq_len)
            ids = torch.tensor([enc["input_ids"]])
            o = model(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True)
            pooled = model.bert.pooler(o.hidden_states[-1])
            cases.append({"text": t, "ids": enc["input_ids"],
                          "logits": o.logits[0].tolist(), "pooled": pooled[0].tolist(),
                          "cls": o.hidden_states[-1][0, 0].tolist()})
        batch = tok(TEXTS, truncation=True, max_length=seq_len, padding=True, return_tensors="pt")
        o = model(**batch)
        for c, row in zip(cases, o.logits):
            c["batch_logits"] = row.tolist()
    ref = {"generator": "tests/tools/make_tiny_bert.py", "seq_len": seq_len,
           "do_lower_case": True, "torch": torch.__version__,
           "transformers": __import__("transformers").__version__, "cases": cases}
    with open(os.path.join(out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
