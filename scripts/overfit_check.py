"""Can the top blocks of SmolLM2-135M-Instruct fit a few Home Depot rows? The PyTorch
reference (not needed by CI) for a `home_depot` diagnostic on the same rows:

    target/release/examples/home_depot --model MODEL_DIR --out /tmp/hd-diag --train-queries 4 \
        --validation-queries 4 --test-queries 2 --epochs 20 --lr 1e-4 --batch-size 16 \
        --stages sft-labels --frozen-layers 20 --sft-loss grade-among-grades --val-rows 0 \
        --beta-rows 8 --resamples 20

The rows are those of the first 4 training queries in the order `home_depot` takes them (the
issue's split: sha256 of "0\t" + query, sorted, the first 80% train; queries in order of first
appearance in the CSV), 33 rows. The embeddings and blocks 0..FROZEN are frozen, a 4-row head
(initialised from the tied output rows of "1".."4") reads the last hidden state of the prompt +
"<answer>", the loss is the cross-entropy among the 4 grades (as `--sft-loss
grade-among-grades`), AdamW (weight decay 0.01), warm-up 10 steps then linear decay, batch 16,
20 epochs (60 steps). Prints the loss of every step.

    python scripts/overfit_check.py MODEL_DIR CSV [FROZEN=20] [LR=1e-4]
"""
import csv
import random
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from probe_layers import INSTRUCTION, grade, splits  # noqa: E402


def main():
    model_dir, data = sys.argv[1], sys.argv[2]
    frozen = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    lr = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-4
    torch.manual_seed(0)
    random.seed(0)
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    _, train_q, _ = splits(data)
    train_set, first = set(train_q), []
    rows_all = list(csv.DictReader(open(data, encoding="utf-8")))
    for r in rows_all:
        if r["search_term"] in train_set and r["search_term"] not in first:
            first.append(r["search_term"])
        if len(first) == 4:
            break
    rows = [r for q in first for r in rows_all if r["search_term"] == q]
    y = torch.tensor([grade(r["relevance"]) for r in rows])
    ids = []
    for r in rows:
        p = (INSTRUCTION + "\nQuery: " + " ".join(r["search_term"].split())
             + "\nProduct: " + " ".join(r["product_title"].split()))
        text = tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                       add_generation_prompt=True) + "<answer>"
        ids.append(tok.encode(text, add_special_tokens=False))
    body = model.model
    for p_ in body.embed_tokens.parameters():
        p_.requires_grad = False
    for layer in body.layers[:frozen]:
        for p_ in layer.parameters():
            p_.requires_grad = False
    digits = [tok.encode(s, add_special_tokens=False)[0] for s in ["1", "2", "3", "4"]]
    head = torch.nn.Parameter(model.lm_head.weight[digits].detach().clone())
    params = [p_ for p_ in body.parameters() if p_.requires_grad] + [head]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    total = (len(rows) + 15) // 16 * 20
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / 10 if s < 10 else max(0.0, (total - s) / (total - 10)))
    losses = []
    for _ in range(20):
        order = list(range(len(rows)))
        random.shuffle(order)
        for i in range(0, len(order), 16):
            b = order[i:i + 16]
            n = max(len(ids[j]) for j in b)
            x = torch.tensor([[tok.pad_token_id] * (n - len(ids[j])) + ids[j] for j in b])
            m = torch.tensor([[0] * (n - len(ids[j])) + [1] * len(ids[j]) for j in b])
            h = body(input_ids=x, attention_mask=m).last_hidden_state[:, -1]
            loss = torch.nn.functional.cross_entropy(h @ head.T, y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(round(loss.item(), 3))
    print(len(rows), "rows; grade counts", torch.bincount(y, minlength=4).tolist())
    print(losses)


if __name__ == "__main__":
    main()
