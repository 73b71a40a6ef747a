"""Write the shipped adapters of a profile (data/adapters/<profile>/) from a finished training run.

Each stage's LoRA adapter is copied in float16 (half the size; the model still runs in its own
dtype), with its PEFT config, and MANIFEST.json records the SHA-256 of every file, the agent
settings the adapter expects, the command and results file that produced it and its held-out
numbers, so that `deltamem_lib.models.shipped.shipped_adapters` can verify the files before use.

    python tools/ship_adapters.py --profile cpu \\
      --stage sft=runs/sft_start/400x2/sft/adapter \\
      --stage sft+grpo=runs/seeds/seed-0/04_rl_training/grpo/adapter \\
      --results results/04_rl_training_cpu_seeds_beta0/seed-0.json \\
      --command "deltamem train --profile cpu --seed 0 --out runs/seeds/seed-0 --set sft_from=... sft_seed=0"
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deltamem_lib.models.shipped import ADAPTERS, MANIFEST, sha256  # noqa: E402

LABELS = {"sft": "SFT (notebook 04's warm start, shipped)", "sft+grpo": "SFT+GRPO (notebook 04, shipped)"}
WEIGHTS = "adapter_model.safetensors"
CONFIG = "adapter_config.json"


def copy_adapter(src: Path, dst: Path) -> dict[str, str]:
    """Copy a PEFT adapter folder's config and weights (as float16) to ``dst``; name -> SHA-256."""
    import torch
    from safetensors.torch import load_file, save_file

    if not (src / CONFIG).is_file() or not (src / WEIGHTS).is_file():
        raise SystemExit(f"{src}: not a PEFT adapter folder (needs {CONFIG} and {WEIGHTS})")
    dst.mkdir(parents=True, exist_ok=True)
    config = json.loads((src / CONFIG).read_text())
    # not the trainer's local cache path
    config["base_model_name_or_path"] = "HuggingFaceTB/SmolLM2-135M-Instruct"
    (dst / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    tensors = {k: v.to(torch.float16).contiguous() for k, v in load_file(src / WEIGHTS).items()}
    save_file(tensors, dst / WEIGHTS, metadata={"format": "pt"})
    return {name: sha256(dst / name) for name in (CONFIG, WEIGHTS)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", required=True)
    ap.add_argument("--stage", action="append", required=True, metavar="NAME=ADAPTER_DIR",
                    help=f"a stage and its adapter folder; names: {', '.join(LABELS)}")
    ap.add_argument("--results", required=True, help="the results JSON of the run that trained the adapters")
    ap.add_argument("--command", required=True, help="the command that trained them (recorded as given)")
    ap.add_argument("--commit", default="", help="the workbook commit that holds that run's results")
    ap.add_argument("--out", default=str(ADAPTERS), help="root of the shipped adapters (default "
                                                         "data/adapters)")
    args = ap.parse_args(argv)

    results = json.loads(Path(args.results).read_text())
    out = Path(args.out) / args.profile
    if out.exists():
        shutil.rmtree(out)
    stages = {}
    for item in args.stage:
        name, _, src = item.partition("=")
        if name not in LABELS or not src:
            raise SystemExit(f"--stage {item!r}: expected NAME=ADAPTER_DIR with NAME one of "
                             f"{', '.join(LABELS)}")
        folder = name.replace("+", "-")
        evaluation = {k: v.get("r_trans_mean") for k, v in results.get("evaluation", {}).items()
                      if k in (name, "no-op", f"{name} (full level)", "no-op (full level)")}
        stages[name] = {"folder": folder, "label": LABELS[name], "source": src,
                        "files": copy_adapter(Path(src), out / folder),
                        "heldout_r_trans": evaluation}
    cfg = results.get("config", {})
    manifest = {
        "profile": results["profile"], "model": results["model"], "model_spec": results["model_spec"],
        "level": results["level"], "seed": results["seed"], "agent": results["agent"],
        "agent_options": {"prompt_style": cfg.get("prompt_style", "full"),
                          "related_k": cfg.get("related_k", 10), "retriever": cfg.get("retriever", "lexical"),
                          "max_new_tokens": cfg.get("eval_max_new_tokens", 48)},
        "dtype": "float16", "command": args.command, "results": args.results, "commit": args.commit,
        "data": results.get("data", {}).get("source"), "stages": stages,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    for name, entry in stages.items():
        size = sum((out / entry["folder"] / f).stat().st_size for f in entry["files"])
        print(f"{name}: {out / entry['folder']} ({size / 1e6:.1f} MB), held-out r_trans "
              f"{entry['heldout_r_trans']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
