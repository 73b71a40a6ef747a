"""PrefixSharingGRPOTrainer computes what TRL's GRPOTrainer computes, with each prompt run once.

A 2-layer random Llama with SmolLM2's tokenizer and a LoRA adapter whose both matrices are
random (so every LoRA gradient is non-zero). The batch holds three prompts of different
lengths (left-padded) × G rollouts of different lengths (right-padded), shuffled as TRL
shuffles the generation batch. TRL's own methods are called on the same trainer and model
as the reference.
"""

from __future__ import annotations

import os

import pytest
from tiny_models import tiny_llama_config

pytestmark = pytest.mark.slow

G = 4
PROMPT_LENGTHS = (9, 14, 6)
COMPLETION = 7


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM
    from trl import GRPOConfig

    from deltamem_lib.models.smollm2 import smollm2_tokenizer
    from deltamem_lib.training.prefix_grpo import PrefixSharingGRPOTrainer

    tok = smollm2_tokenizer()
    cfg = tiny_llama_config(tok, heads=4, kv_heads=2, max_positions=512)
    torch.manual_seed(0)
    model = get_peft_model(LlamaForCausalLM(cfg), LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                           "down_proj"], init_lora_weights=False, task_type="CAUSAL_LM"))
    args = GRPOConfig(output_dir=str(tmp_path_factory.mktemp("grpo")), use_cpu=True, bf16=False,
                      gradient_checkpointing=False, num_generations=G, per_device_train_batch_size=G,
                      max_completion_length=COMPLETION, temperature=0.7, max_steps=1, save_strategy="no",
                      report_to=[], beta=0.0, seed=0)
    rows = [{"prompt": [{"role": "user", "content": "hello"}]}] * 4
    return PrefixSharingGRPOTrainer(model=model, processing_class=tok, args=args,
                                    reward_funcs=lambda completions, **kw: [0.0] * len(completions),
                                    train_dataset=Dataset.from_list(rows))


def _batch(seed: int = 1):
    """input_ids, attention_mask, logits_to_keep: 3 prompts × G rollouts, shuffled."""
    import torch

    g = torch.Generator().manual_seed(seed)
    width = max(PROMPT_LENGTHS)
    prompt_ids, prompt_mask, comp_ids, comp_mask = [], [], [], []
    for n in PROMPT_LENGTHS:
        ids = torch.randint(5, 1000, (n,), generator=g)
        for _ in range(G):
            prompt_ids.append(torch.cat([torch.zeros(width - n, dtype=torch.long), ids]))  # left padding
            prompt_mask.append(torch.cat([torch.zeros(width - n, dtype=torch.long),
                                          torch.ones(n, dtype=torch.long)]))
            k = int(torch.randint(1, COMPLETION + 1, (1,), generator=g))
            comp_ids.append(torch.randint(5, 1000, (COMPLETION,), generator=g))
            comp_mask.append((torch.arange(COMPLETION) < k).long())  # right padding
    order = torch.randperm(len(prompt_ids), generator=g)
    input_ids = torch.cat([torch.stack(prompt_ids), torch.stack(comp_ids)], 1)[order]
    mask = torch.cat([torch.stack(prompt_mask), torch.stack(comp_mask)], 1)[order]
    return input_ids, mask, COMPLETION


def _lora_grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if "lora_" in n
            and p.grad is not None}


def _logps_and_grads(fn, trainer, batch, weights, **kw):
    model = trainer.model
    model.zero_grad(set_to_none=True)
    logps, entropies, _ = fn(trainer, model, *batch, compute_entropy=True, **kw)
    (logps * weights).sum().backward()
    return logps.detach(), entropies.detach(), _lora_grads(model)


@pytest.mark.parametrize("batch_size", [None, 5])
def test_log_probs_entropies_and_lora_gradients_equal_trls(trainer, batch_size):
    import torch
    from trl import GRPOTrainer

    from deltamem_lib.training.prefix_grpo import PrefixSharingGRPOTrainer

    batch = _batch()
    weights = torch.randn(batch[0].size(0), COMPLETION,
                          generator=torch.Generator().manual_seed(2)) * batch[1][:, -COMPLETION:]
    ref = _logps_and_grads(GRPOTrainer._get_per_token_logps_and_entropies, trainer, batch, weights,
                           batch_size=batch_size)
    ours = _logps_and_grads(PrefixSharingGRPOTrainer._get_per_token_logps_and_entropies, trainer, batch,
                            weights, batch_size=batch_size)
    assert ref[0].shape == ours[0].shape == (batch[0].size(0), COMPLETION)
    real = batch[1][:, -COMPLETION:].bool()
    assert bool((ref[0][real] < 0).all())  # real log-probabilities, not the zeros of masked tokens
    torch.testing.assert_close(ours[0], ref[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours[1], ref[1], rtol=1e-5, atol=1e-5)
    assert ref[2].keys() == ours[2].keys() and len(ref[2]) == 2 * 7 * 2  # A and B of 7 modules in 2 layers
    for name, g in ref[2].items():
        assert float(g.abs().max()) > 0, name
        torch.testing.assert_close(ours[2][name], g, rtol=1e-4, atol=1e-6 * float(g.abs().max()), msg=name)


def test_each_prompt_runs_once(trainer):
    """The decoder sees each distinct prompt once plus [last prompt token, completion] per row."""
    from deltamem_lib.training.prefix_grpo import unique_rows

    batch = _batch()
    seen = []
    emb = trainer.model.get_input_embeddings()
    hook = emb.register_forward_hook(lambda m, inp, out: seen.append(inp[0].numel()))
    try:
        trainer._get_per_token_logps_and_entropies(trainer.model, *batch)
    finally:
        hook.remove()
    width = batch[0].size(1) - COMPLETION
    first, inverse = unique_rows(batch[0][:, :width], batch[1][:, :width])
    assert len(first) == len(PROMPT_LENGTHS) and bool((inverse.bincount() == G).all())
    assert seen == [len(PROMPT_LENGTHS) * (width - 1), batch[0].size(0) * (COMPLETION + 1)]


def _prompt_lists(seed: int = 3):
    import torch

    g = torch.Generator().manual_seed(seed)
    prompts = [torch.randint(5, 1000, (n,), generator=g).tolist() for n in PROMPT_LENGTHS]
    rows = [p for p in prompts for _ in range(G)]
    order = torch.randperm(len(rows), generator=g).tolist()
    return [rows[i] for i in order]


def test_greedy_generation_equals_trls(trainer):
    """Same tokens and end-of-sequence cut as TRL's generate; one token of TRL's greedy output is
    made the end-of-sequence token so that completions of several lengths occur."""
    from trl import GRPOTrainer

    prompts = _prompt_lists()
    cfg, eos = trainer.generation_config, list(trainer.eos_token_ids)
    cfg.do_sample = False
    try:
        ref, _ = GRPOTrainer._generate_single_turn(trainer, prompts, None, {}, G)
        stop = ref[0][2]
        trainer.eos_token_ids, cfg.eos_token_id = [stop], [stop]
        ref, _ = GRPOTrainer._generate_single_turn(trainer, prompts, None, {}, G)
        ours, logprobs = trainer._generate_single_turn(prompts, None, {}, G)
    finally:
        cfg.do_sample, trainer.eos_token_ids, cfg.eos_token_id = True, eos, eos
    assert logprobs is None and len(ours) == len(prompts)
    assert ours == ref
    lengths = {len(c) for c in ours}
    assert len(lengths) > 1 and max(lengths) <= COMPLETION and any(c[-1] == stop for c in ours)


def test_sampled_generation_is_well_formed(trainer):
    import torch

    prompts = _prompt_lists(seed=4)
    torch.manual_seed(0)
    ours, _ = trainer._generate_single_turn(prompts, None, {}, G)
    assert len(ours) == len(prompts)
    assert all(1 <= len(c) <= COMPLETION and all(0 <= t < len(trainer.processing_class) for t in c)
               for c in ours)


def test_kl_reference_is_the_starting_adapter(tmp_path):
    """``beta`` > 0 with a model that already holds an adapter (GRPO continuing the SFT start):
    TRL copies that adapter as a frozen ``ref`` adapter, and the reference log-probabilities our
    shared-prefix path computes under it are the start's — equal to the policy's before any step,
    unchanged when the trained adapter moves, and only the trained adapter receives gradients."""
    os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM
    from trl import GRPOConfig
    from trl.trainer.utils import use_adapter

    from deltamem_lib.models.smollm2 import smollm2_tokenizer
    from deltamem_lib.training.prefix_grpo import PrefixSharingGRPOTrainer

    tok = smollm2_tokenizer()
    torch.manual_seed(1)
    model = get_peft_model(LlamaForCausalLM(tiny_llama_config(tok, heads=4, kv_heads=2, max_positions=512)),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                      init_lora_weights=False, task_type="CAUSAL_LM"))
    args = GRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, gradient_checkpointing=False,
                      num_generations=G, per_device_train_batch_size=G, max_completion_length=COMPLETION,
                      max_steps=1, save_strategy="no", report_to=[], beta=0.1, seed=0)
    trainer = PrefixSharingGRPOTrainer(model=model, processing_class=tok, args=args,
                                       reward_funcs=lambda completions, **kw: [0.0] * len(completions),
                                       train_dataset=Dataset.from_list([{"prompt": "hi"}] * 4))
    peft_model = trainer.accelerator.unwrap_model(trainer.model)
    assert set(peft_model.peft_config) == {"default", "ref"}
    batch = _batch(seed=5)

    def logps(adapter):
        with torch.no_grad(), use_adapter(peft_model, adapter_name=adapter):
            return trainer._get_per_token_logps_and_entropies(trainer.model, *batch)[0]

    start = logps("ref")
    torch.testing.assert_close(start, logps("default"))  # step 0: KL 0
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if ".default." in name and "lora_B" in name:
                p.add_(0.05 * torch.randn_like(p))
    moved = logps("default")
    assert float((moved - start).abs().max()) > 1e-3  # the policy moved …
    torch.testing.assert_close(logps("ref"), start)  # … the reference did not
    trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    assert trainable and all(".default." in n for n in trainable)  # after switching back: only the policy
