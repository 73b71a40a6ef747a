"""GRPO that reads each group's shared prompt once (DeltaMem §3.3, "DeltaMem-RL").

A GRPO step samples G rollouts of one prompt and then scores them. TRL's ``GRPOTrainer``
treats the G rows as independent sequences: at generation each row prefills the whole
prompt, and in the loss each row runs the prompt forward and backward again. With one-shot
prompts of ~240 tokens and completions of ~20, that repeated prompt is most of a step's
compute. :class:`PrefixSharingGRPOTrainer` overrides two methods of TRL's trainer and leaves
the rest to TRL (rewards, advantages, the loss, logging, checkpoints):

* ``_get_per_token_logps_and_entropies`` (the loss, and the old/reference log-probabilities
  when TRL needs them): identical prompt rows of the batch (``prompt_ids`` and
  ``prompt_mask`` equal) are found wherever they sit — TRL shuffles the generation batch
  before it splits it into micro-batches — and each distinct prompt minus its last token
  runs through the decoder once, producing a key/value cache. The cache is expanded to the
  rows that share the prompt (``index_select`` along the batch dimension, into a new cache),
  and the rows then run ``[last prompt token, completion tokens]`` against it through TRL's
  fused LM head (same temperature scaling, same entropies). The first completion token is
  predicted from the last prompt position, as in TRL.
* ``_generate_single_turn`` (plain ``transformers`` generation): each distinct prompt minus
  its last token is prefilled once, the cache is expanded to the G rows, and ``generate``
  continues from it with TRL's own generation config (temperature, top-p, top-k, maximum
  length, end-of-sequence tokens), so only the last prompt token and the new tokens are
  computed per row.

Why the gradient stays exact: a row's completion depends on the prompt only through the
prompt's keys and values, which are the same function of the same parameters in every row
of the group. Computing them once and indexing them into G rows is the same computation
graph with the common sub-expression shared; in the backward pass ``index_select`` sums the
G rows' gradients into the shared keys/values (the chain rule for a reused value), and one
backward through the prompt turns that sum into the parameter gradient that G separate
backward passes would have added up. Positions follow TRL's (the loss numbers the padded
sequence from 0, generation from the first real token), so the log-probabilities agree with
TRL's to float rounding; ``tests/test_prefix_grpo.py`` checks it, gradients included.

Paths this does not cover fall back to TRL's own code unchanged: vLLM or continuous-
batching generation, images and other multimodal inputs, MoE auxiliary losses, gradient
checkpointing (its recomputation would replay the cache updates), cache layers other than
the plain dynamic one, prompts of a single token.
"""

from __future__ import annotations

from typing import Any

import torch
from trl import GRPOTrainer

__all__ = ["PrefixSharingGRPOTrainer", "expand_cache", "unique_rows"]


def unique_rows(*columns: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(first, inverse)``: for rows equal in every column, ``first[u]`` is the index of one
    row of distinct value ``u`` and ``inverse[i]`` the distinct value of row ``i``."""
    key = torch.cat([c.reshape(c.size(0), -1).long() for c in columns], dim=1)
    _, inverse = torch.unique(key, dim=0, return_inverse=True)
    n = int(inverse.max()) + 1 if inverse.numel() else 0
    first = torch.full((n,), key.size(0), dtype=torch.long, device=key.device)
    first.scatter_reduce_(0, inverse, torch.arange(key.size(0), device=key.device), reduce="amin")
    return first, inverse


def _plain_dynamic(cache: Any) -> bool:
    from transformers.cache_utils import DynamicCache, DynamicLayer

    return type(cache) is DynamicCache and all(type(layer) is DynamicLayer for layer in cache.layers)


def expand_cache(cache: Any, index: torch.Tensor, config: Any = None) -> Any:
    """A new ``DynamicCache`` whose row ``i`` is row ``index[i]`` of ``cache`` (differentiable;
    ``cache`` itself is left as it was)."""
    from transformers.cache_utils import DynamicCache

    data = [(layer.keys.index_select(0, index), layer.values.index_select(0, index))
            for layer in cache.layers]
    return DynamicCache(ddp_cache_data=data, config=config)


def _backbone(model: Any) -> Any:
    """The decoder stack (``LlamaModel`` of a ``LlamaForCausalLM``) under the PEFT and
    accelerate wrappers; None when the model has no such attribute. LoRA layers live inside
    the stack's modules, so calling it applies the adapter (or not, under
    ``disable_adapter``)."""
    from accelerate.utils import extract_model_from_parallel, is_peft_model

    m = extract_model_from_parallel(model)
    if is_peft_model(m):
        m = m.get_base_model()
    prefix = getattr(m, "base_model_prefix", "")
    backbone = getattr(m, prefix, None) if prefix else None
    if backbone is None or backbone is m or getattr(m.config, "is_encoder_decoder", False):
        return None
    return backbone


class PrefixSharingGRPOTrainer(GRPOTrainer):
    """TRL's ``GRPOTrainer`` with each distinct prompt of a batch run once, at generation and
    in the loss (see the module docstring for the exactness argument). Same constructor and
    options as ``GRPOTrainer``."""

    # ----- helpers ----------------------------------------------------------------------------
    def _sharing_applies(self, model: Any) -> bool:
        m = getattr(model, "module", model)
        checkpointing = getattr(m, "is_activation_checkpointing", None)  # transformers >= 5.x name
        if checkpointing is None:
            checkpointing = getattr(m, "is_gradient_checkpointing", False)
        return not checkpointing and _backbone(model) is not None

    # ----- loss -------------------------------------------------------------------------------
    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep,
                                           batch_size=None, compute_entropy=False, compute_aux_loss=False,
                                           **multimodal: Any):
        prompt_len = input_ids.size(1) - logits_to_keep
        if (compute_aux_loss or any(v is not None for v in multimodal.values()) or prompt_len < 2
                or logits_to_keep < 1 or not self._sharing_applies(model)):
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size,
                compute_entropy=compute_entropy, compute_aux_loss=compute_aux_loss, **multimodal)
        batch_size = batch_size or input_ids.size(0)
        all_logps, all_entropies = [], []
        for start in range(0, input_ids.size(0), batch_size):
            ids, mask = input_ids[start:start + batch_size], attention_mask[start:start + batch_size]
            logps, entropy = self._shared_prefix_logps(model, ids, mask, prompt_len, compute_entropy)
            all_logps.append(logps)
            if compute_entropy:
                all_entropies.append(entropy)
        logps = torch.cat(all_logps, dim=0)
        entropies = torch.cat(all_entropies, dim=0) if compute_entropy else None
        return logps, entropies, None

    def _shared_prefix_logps(self, model: Any, ids: torch.Tensor, mask: torch.Tensor, prompt_len: int,
                             compute_entropy: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-token log-probabilities (and entropies) of ``ids[:, prompt_len:]``, each distinct
        prompt row run once."""
        from transformers.cache_utils import DynamicCache

        backbone = _backbone(model)
        first, inverse = unique_rows(ids[:, :prompt_len], mask[:, :prompt_len])
        head = prompt_len - 1  # the shared part: the prompt without its last token
        with self.accelerator.autocast():
            # positions as in TRL's forward over the whole row: 0 .. prompt_len-2, then onwards
            prefix = backbone(input_ids=ids[first, :head], attention_mask=mask[first, :head],
                              past_key_values=DynamicCache(config=backbone.config), use_cache=True)
            cache = prefix.past_key_values
            if not _plain_dynamic(cache):  # a layer type this expansion does not handle
                raise RuntimeError("shared-prefix log-probabilities need a plain DynamicCache")
            cache = expand_cache(cache, inverse, config=backbone.config)
            tail_ids = ids[:, head:]
            labels = tail_ids.masked_fill(mask[:, head:] == 0, -100)
            labels[:, 0] = -100  # the last prompt token is context, not a label
            out = model(input_ids=tail_ids, attention_mask=mask, past_key_values=cache, labels=labels,
                        fused_lm_head=True)
        return out.log_probs, (out.entropy if compute_entropy else None)

    # ----- generation -------------------------------------------------------------------------
    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations,
                              has_tool_images=False):
        gen_cfg = getattr(self, "generation_config", None)
        if (self.use_vllm or self.use_transformers_continuous_batching or multimodal_fields or has_tool_images
                or (images is not None and any(im for im in images)) or gen_cfg is None
                or getattr(gen_cfg, "cache_implementation", None) is not None
                or min(len(p) for p in prompt_ids) < 2 or _backbone(self.model_wrapped) is None):
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                 has_tool_images=has_tool_images)
        return self._generate_shared_prefix(prompt_ids)

    def _generate_shared_prefix(self, prompt_ids: list[list[int]]) -> tuple[list[list[int]], None]:
        from transformers.cache_utils import DynamicCache
        from trl.extras.profiling import profiling_context
        from trl.models import unwrap_model_for_generation
        from trl.trainer.utils import pad

        device = self.accelerator.device
        distinct: dict[tuple[int, ...], int] = {}
        row_of = [distinct.setdefault(tuple(p), len(distinct)) for p in prompt_ids]
        prompts = [torch.tensor(p) for p in distinct]
        u_ids = pad(prompts, padding_value=self._tokenizer.pad_token_id, padding_side="left",
                    pad_to_multiple_of=self.pad_to_multiple_of).to(device)
        u_mask = pad([torch.ones_like(t) for t in prompts], padding_value=0, padding_side="left",
                     pad_to_multiple_of=self.pad_to_multiple_of).to(device)
        index = torch.tensor(row_of, device=device)
        # generate() numbers positions from the first real token; the prefill must agree
        u_pos = (u_mask.long().cumsum(-1) - 1).masked_fill(u_mask == 0, 0)
        with (
            profiling_context(self, "transformers.generate"),
            unwrap_model_for_generation(
                self.model_wrapped, self.accelerator,
                gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                generation_kwargs=self.generation_kwargs,
                gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs,
            ) as unwrapped_model,
            torch.no_grad(),
            self._dist.summon_full_params(self.model_wrapped, recurse=False),
        ):
            backbone = _backbone(unwrapped_model)
            prefix = backbone(input_ids=u_ids[:, :-1], attention_mask=u_mask[:, :-1],
                              position_ids=u_pos[:, :-1],
                              past_key_values=DynamicCache(config=backbone.config), use_cache=True)
            cache = expand_cache(prefix.past_key_values, index, config=backbone.config)
            del prefix
            rows_ids, rows_mask = u_ids[index], u_mask[index]
            prompt_completion_ids = unwrapped_model.generate(input_ids=rows_ids, attention_mask=rows_mask,
                                                             past_key_values=cache,
                                                             generation_config=self.generation_config)
        completion_ids = prompt_completion_ids[:, rows_ids.size(1):]
        # Mask everything after the first EOS token (as TRL does)
        is_eos = torch.isin(completion_ids, torch.tensor(self.eos_token_ids, device=completion_ids.device))
        eos_idx = torch.full((is_eos.size(0),), is_eos.size(1), dtype=torch.long,
                             device=completion_ids.device)
        eos_idx[is_eos.any(dim=1)] = is_eos.int().argmax(dim=1)[is_eos.any(dim=1)]
        seq_idx = torch.arange(is_eos.size(1), device=completion_ids.device).expand(is_eos.size(0), -1)
        completion_mask = seq_idx <= eos_idx.unsqueeze(1)
        return [c[m].tolist() for c, m in zip(completion_ids.cpu(), completion_mask.cpu(), strict=True)], None
