"""How much a linear read-out of each layer of a frozen checkpoint carries on Home Depot.

A diagnostic next to `home_depot`'s `label-probe` stage, in PyTorch (the reference
implementation; not needed by CI): for the rows of the first N training queries and the first
M validation queries (the issue's split: sha256 of "0\t" + query, sorted, 80/10/10), it takes
every layer's hidden state at the label position (the prompt + "<answer>", as `home_depot`
renders it, except that "<answer>" is the tokenizer's pieces rather than an added token) and
the mean over all positions, fits a class-balanced softmax regression per layer (L-BFGS,
features standardised, four L2 strengths) and prints validation macro-F1 (argmax) and
training macro-F1.

    python scripts/probe_layers.py MODEL_DIR CSV 400 150   # train queries, validation queries
"""
import csv
import hashlib
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

INSTRUCTION = (
    "Grade how relevant the product is to the search query, from L1 (irrelevant) to L4 "
    "(exactly what was searched for). Grades: L1, L2, L3, L4. Reply with the grade first, as "
    "<answer>L4</answer>, then your reasons in <think></think>.\n"
)


def grade(r):
    r = float(r)
    return 3 if r >= 2.99 else 2 if r >= 2.33 else 1 if r >= 1.67 else 0


def splits(path):
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    key = lambda q: hashlib.sha256(("0\t" + q).encode()).hexdigest()
    queries = sorted({r["search_term"] for r in rows}, key=key)
    n = len(queries)
    by = {}
    for r in rows:
        by.setdefault(r["search_term"], []).append(r)
    return by, queries[: int(n * 0.8)], queries[int(n * 0.8) : int(n * 0.9)]


def features(model, tok, items, batch=16):
    tok.padding_side = "left"
    last, mean = [], []
    for i in range(0, len(items), batch):
        texts = []
        for r in items[i : i + batch]:
            p = (INSTRUCTION + "\nQuery: " + " ".join(r["search_term"].split())
                 + "\nProduct: " + " ".join(r["product_title"].split()))
            texts.append(tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                                 add_generation_prompt=True) + "<answer>")
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            hs = torch.stack(model(**enc, output_hidden_states=True).hidden_states, 1)
        m = enc["attention_mask"][:, None, :, None].float()
        last.append(hs[:, :, -1, :].numpy())
        mean.append(((hs * m).sum(2) / m.sum(2)).numpy())
    return np.concatenate(last), np.concatenate(mean)


def macro_f1(y, p):
    f = []
    for c in range(4):
        tp = ((p == c) & (y == c)).sum()
        fp = ((p == c) & (y != c)).sum()
        fn = ((p != c) & (y == c)).sum()
        f.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f))


def fit(x, y, xv, l2):
    mu, sd = x.mean(0), x.std(0) + 1e-6
    x, xv = torch.tensor((x - mu) / sd), torch.tensor((xv - mu) / sd)
    yt = torch.tensor(y)
    counts = torch.bincount(yt, minlength=4).float()
    weight = counts.sum() / (4 * counts.clamp(min=1))
    w = torch.zeros(x.shape[1], 4, requires_grad=True)
    b = torch.zeros(4, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w + b, yt, weight=weight) + l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return (xv @ w + b).argmax(1).numpy(), (x @ w + b).argmax(1).numpy()


def main():
    model_dir, data, n_train, n_val = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    by, train_q, val_q = splits(data)
    train = [r for q in train_q[:n_train] for r in by[q]]
    val = [r for q in val_q[:n_val] for r in by[q]]
    y, yv = np.array([grade(r["relevance"]) for r in train]), np.array([grade(r["relevance"]) for r in val])
    (tl, tm), (vl, vm) = features(model, tok, train), features(model, tok, val)
    print(f"{len(train)} training rows, {len(val)} validation rows")
    for kind, xt, xv in [("last", tl, vl), ("mean", tm, vm)]:
        for layer in range(5, xt.shape[1], 5):
            scores = []
            for l2 in [1e-4, 1e-3, 1e-2, 1e-1]:
                pv, pt = fit(xt[:, layer], y, xv[:, layer], l2)
                scores.append(f"l2 {l2:g}: val {macro_f1(yv, pv):.3f} train {macro_f1(y, pt):.3f}")
            print(kind, layer, "; ".join(scores), flush=True)


if __name__ == "__main__":
    main()
