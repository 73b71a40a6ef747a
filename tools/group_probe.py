"""What GRPO's groups would teach at a given rollout temperature, measured without training.

A GRPO step raises the answers that score above their group's mean and lowers the rest
(DeltaMem §3.3; TRL's group-normalised advantages). Which way a step pushes the policy
therefore depends on the temperature the rollouts are sampled at: at T = 1 many sampled
answers to a changed session are wrong and score like doing nothing, while on a quiet session
``[]`` scores 1 and any operation 0. This tool measures that directly at a fixed adapter (the
SFT start, or any GRPO checkpoint):

* it draws ``--groups`` training sessions that GRPO samples from (balanced over the four kinds
  of the single-change level), and for each temperature ``G`` completions per session;
* it scores them with the training reward (the reward functions and weights GRPO gets) and
  computes each rollout's advantage as TRL does (``scale_rewards`` of the config);
* it reports, per temperature: the mean sampled reward, the share of groups without spread,
  and the **net advantage** each answer kind (none / ADD / UPDATE / DELETE / other) receives,
  summed over its rollouts and divided by the number of groups — positive means that a step at
  this temperature raises that answer on these sessions; per gold kind as well.

    python tools/group_probe.py --adapter runs/sft_start/400x2/sft/adapter --out runs/group_probe \
        --temperatures 1.0 0.7 0.5 --groups 48

``<out>/group_probe.json`` holds the settings and the report.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

from deltamem_lib.io import atomic_write_json
from deltamem_lib.models.parsing import parse_operation_list
from deltamem_lib.synthesis.levels import KINDS, balanced_rows
from deltamem_lib.teaching.rl_training import group_advantages
from deltamem_lib.training.datasets import grpo_rows, prepare_data, prompt_rows
from deltamem_lib.training.rewards import apply_rewards, build_reward_functions
from deltamem_lib.training.trainers import load_policy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sft_decisions import level_config  # noqa: E402  (the SFT curve's level)

ANSWERS = ("none", "ADD", "UPDATE", "DELETE", "other")


def answer_kind(text: str) -> str:
    """The kind one completion chose: none (``[]``), one ADD/UPDATE/DELETE, or other (several, unreadable)."""
    parsed = parse_operation_list(text)
    if not parsed.found_list or parsed.malformed:
        return "other"
    ops = [o["op"] for o in parsed.operations]
    if not ops:
        return "none"
    return ops[0] if len(ops) == 1 and ops[0] in KINDS else "other"


def sample(model, tok, prompt: list[dict], *, g: int, temperature: float, max_new: int, seed: int,
           template_kwargs: dict) -> list[str]:
    text = tok.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False, **template_kwargs)
    ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(ids, do_sample=True, temperature=temperature, top_p=1.0, top_k=0,
                             num_return_sequences=g, max_new_tokens=max_new, pad_token_id=tok.pad_token_id)
    return [tok.decode(o[ids.shape[1]:], skip_special_tokens=True) for o in out]


def probe(temperature: float, rows: list[dict], model, tok, cfg, funcs, weights) -> dict:
    net = defaultdict(float)
    net_by_gold: dict[str, dict[str, float]] = {k: defaultdict(float) for k in KINDS}
    share = defaultdict(int)
    flat, rewards, r_trans = 0, [], []
    t0 = time.perf_counter()
    for i, row in enumerate(rows):
        texts = sample(model, tok, row["prompt"], g=cfg.num_generations, temperature=temperature,
                       max_new=cfg.max_completion_length, seed=cfg.seed * 100_003 + i,
                       template_kwargs=cfg.chat_template_kwargs())
        columns = {k: [v] * len(texts) for k, v in row.items() if k != "prompt"}
        values, total = apply_rewards(funcs, weights, [[{"role": "assistant", "content": t}] for t in texts],
                                      **columns)
        adv = group_advantages(total, scale=cfg.scale_rewards)
        flat += max(total) - min(total) < 1e-9
        rewards += total
        r_trans += values.get("r_trans", total)
        for text, a in zip(texts, adv):
            kind = answer_kind(text)
            share[kind] += 1
            net[kind] += a
            net_by_gold[row["kind"]][kind] += a
    n, m = len(rows), len(rows) * cfg.num_generations
    per_gold = len(rows) // len(KINDS)
    return {"temperature": temperature, "groups": n, "seconds": round(time.perf_counter() - t0, 1),
            "reward_mean": round(sum(rewards) / m, 4), "r_trans_mean": round(sum(r_trans) / m, 4),
            "zero_spread_share": round(flat / n, 4),
            "answer_share": {k: round(share[k] / m, 4) for k in ANSWERS},
            "net_advantage": {k: round(net[k] / n, 4) for k in ANSWERS},
            "net_advantage_by_gold": {g: {k: round(v[k] / per_gold, 4) for k in ANSWERS}
                                      for g, v in net_by_gold.items()}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--adapter", required=True, type=Path, help="the LoRA adapter folder to sample from")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 0.7, 0.5])
    ap.add_argument("--groups", type=int, default=48, help="training sessions (a multiple of 4)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a setting (as deltamem train)")
    args = ap.parse_args(argv)
    if args.groups <= 0 or args.groups % len(KINDS):
        ap.error(f"--groups {args.groups}: must be a positive multiple of {len(KINDS)}")
    cfg = level_config(args.set, {"seed": args.seed, "ablations": []}, "--seed")
    data = prepare_data(cfg)
    pool = grpo_rows(data.train_rows, cfg)
    by_kind = {k: [r for r in pool if r["kind"] == k] for k in KINDS}
    rows = prompt_rows(balanced_rows(by_kind, args.groups // len(KINDS), seed=args.seed,
                                     where="GRPO's training sessions"), cfg)
    model, tok = load_policy(cfg, adapter=args.adapter, trainable=False)
    model = model.merge_and_unload().eval()
    funcs, weights, _ = build_reward_functions(cfg)
    report = []
    for t in args.temperatures:
        r = probe(t, rows, model, tok, cfg, funcs, weights)
        report.append(r)
        print(f"T={t}: reward {r['reward_mean']:.3f}, zero-spread {r['zero_spread_share']:.2f}, answers "
              f"{r['answer_share']}, net advantage {r['net_advantage']} ({r['seconds']:.0f} s)", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "group_probe.json", {
        "adapter": str(args.adapter), "groups": len(rows), "num_generations": cfg.num_generations,
        "scale_rewards": cfg.scale_rewards, "seed": args.seed, "report": report})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
