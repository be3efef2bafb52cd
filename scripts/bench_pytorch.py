#!/usr/bin/env python3
"""PyTorch eager baseline for benches/real_model.rs, on the same machine in the same session.

    python3 scripts/bench_pytorch.py [--threads 2] [--reps 5]

SmolLM2-135M shapes (Llama family, tied head), float32, random weights (speed does not
depend on their values). Cells, medians over --reps runs after one warm-up:
- prefill: one forward over 128 prompt tokens, logits of the last position only
  (`logits_to_keep=1`, what generate() does);
- decode_b1 / decode_b8: 64 greedy steps with the KV cache after a 128-token prefill,
  batch 1 and 8 (time of the 64 steps only), reported as tokens/s;
- train_step: forward + backward + AdamW on batch 4 x 128 tokens, loss on the last 32
  tokens of each row.
Prints one JSON object.
"""
import argparse
import json
import statistics
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def smollm2():
    return LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536,
                       num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                       head_dim=64, max_position_embeddings=2048, rms_norm_eps=1e-5,
                       rope_parameters={"rope_theta": 100000.0, "rope_type": "default"},
                       tie_word_embeddings=True, attention_bias=False)


def median_time(fn, reps, sync=lambda: None):
    fn()
    sync()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    args = ap.parse_args()
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = LlamaForCausalLM(smollm2()).float().eval().to(dev)
    g = torch.Generator().manual_seed(1)
    prompt = torch.randint(3, 49152, (1, 128), generator=g).to(dev)

    def prefill():
        with torch.no_grad():
            model(prompt, logits_to_keep=1)

    def decode(batch):
        ids = prompt.expand(batch, 128).contiguous()
        with torch.no_grad():
            out = model(ids, use_cache=True, logits_to_keep=1)
            past = out.past_key_values
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            sync()
            t = time.perf_counter()
            for _ in range(64):
                out = model(nxt, past_key_values=past, use_cache=True)
                past = out.past_key_values
                nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            sync()
            return time.perf_counter() - t

    def decode_rate(batch):
        decode(batch)
        return statistics.median([64 * batch / decode(batch) for _ in range(max(1, args.reps // 2))])

    train = LlamaForCausalLM(smollm2()).float().train().to(dev)
    opt = torch.optim.AdamW(train.parameters(), lr=1e-5)
    batch = torch.randint(3, 49152, (4, 128), generator=g).to(dev)
    labels = batch.clone()
    labels[:, :96] = -100

    def train_step():
        opt.zero_grad()
        loss = train(batch, labels=labels).loss
        loss.backward()
        opt.step()

    result = {
        "torch": torch.__version__,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "prefill_128_ms": 1e3 * median_time(prefill, args.reps, sync),
        "decode_b1_tok_s": decode_rate(1),
        "decode_b8_tok_s": decode_rate(8),
        "train_step_s": median_time(train_step, max(2, args.reps // 2), sync),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
