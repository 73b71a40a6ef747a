"""LLM judges of the benchmarks, through any chat backend (optional everywhere).

* LoCoMo's **J** (``docs/benchmark_protocols.md`` §1): the Mem0 judge prompt, kept character for character in
  :data:`deltamem_lib.benchmarks.metrics.MEM0_JUDGE_PROMPT`, temperature 0, verdicts read by
  :func:`~deltamem_lib.benchmarks.metrics.parse_judge_verdict`. Mem0 reports the mean ± std
  over 10 runs; with greedy decoding every run of a local judge is the same, so runs after the
  first sample at ``run_temperature`` (say which in the report: :func:`judge_locomo` records it).
* HaluMem's four judges (§2 "Metrics"): memory integrity (0/1/2 per gold point), memory
  accuracy (0/1/2 and "inside the gold points" per extracted memory), update (Correct /
  Hallucination / Omission / Other) and QA (Correct / Hallucination / Omission). The official
  prompts live in HaluMem's ``eval/evaluation.py``; the prompts here are **the workbook's
  short paraphrases** of their criteria, so numbers judged with them are labelled "local
  judge, workbook prompts" and are not directly comparable with the leaderboard.

A judge is a chat backend (:func:`deltamem_lib.models.load_chat_model`, ``"openai:<model>"``
for a hosted one). The backend reads the API key from the environment; nothing here sees it,
and results record only the model's name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from ..benchmarks.metrics import JudgeVerdict, format_judge_prompt, parse_judge_verdict

__all__ = ["HALUMEM_PROMPTS", "judge_halumem", "judge_locomo", "parse_json_field"]


def judge_locomo(judge: Any, items: Sequence[tuple[str, str, str]], *, run: int = 0,
                 run_temperature: float = 0.7, max_new_tokens: int = 96, batch_size: int = 8,
                 seed: int = 0) -> list[tuple[JudgeVerdict, dict[str, Any]]]:
    """One judge run over ``(question, gold answer, generated answer)`` items.

    Run 0 is greedy (temperature 0, the protocol's setting); later runs sample at
    ``run_temperature`` with seed ``seed + run`` so that several runs can differ as API judges
    do. Returns ``(verdict, cost)`` per item."""
    temperature = 0.0 if run == 0 else run_temperature
    out: list[tuple[JudgeVerdict, dict[str, Any]]] = []
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        prompts = [[{"role": "user", "content": format_judge_prompt(q, gold, gen)}] for q, gold, gen in chunk]
        responses = judge.chat_batch(prompts, max_new_tokens=max_new_tokens, temperature=temperature,
                                     seed=seed + run)
        for r in responses:
            out.append((parse_judge_verdict(r.raw_text or r.text),
                        {"prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens,
                         "seconds": round(r.seconds, 4), "temperature": temperature}))
    return out


#: The workbook's paraphrases of HaluMem's judge criteria (module docstring). Each asks for
#: one JSON object.
HALUMEM_PROMPTS: dict[str, str] = {
    "integrity": (
        "A memory system extracted these memories from a dialogue:\n{memories}\n\n"
        "Target memory point: {target}\n\n"
        "Score how well the extracted memories contain the target point: 2 = fully covered or clearly "
        "implied; 1 = partly covered or some key detail wrong; 0 = absent or contradicted.\n"
        'Reply with JSON only: {{"score": 0|1|2}}'),
    "accuracy": (
        "Dialogue:\n{dialogue}\n\nReference memory points of this dialogue:\n{points}\n\n"
        "Extracted memory: {memory}\n\n"
        "Score the extracted memory: 2 = every fact in it is supported by the dialogue; 1 = partly "
        "supported; 0 = unsupported or contradicted (hallucinated). Also say whether its information "
        "appears among the reference memory points.\n"
        'Reply with JSON only: {{"score": 0|1|2, "in_gold": true|false}}'),
    "update": (
        "Memories retrieved from a memory system:\n{memories}\n\n"
        "Updated fact that should be stored: {target}\nOld fact it replaces: {original}\n\n"
        "Label the memory system's state: Correct = the new fact is present with its key details and the "
        "old value is replaced or marked outdated; Hallucination = a related memory states wrong facts; "
        "Omission = no related new memory, or key information missing; Other = anything else.\n"
        'Reply with JSON only: {{"label": "Correct"|"Hallucination"|"Omission"|"Other"}}'),
    "qa": (
        "Question: {question}\nReference answer: {answer}\nEvidence: {evidence}\n"
        "System response: {response}\n\n"
        "Label the response: Correct = semantically equivalent to the reference, nothing contradictory; "
        "Hallucination = contradicts the reference or the evidence, or gives a concrete answer where the "
        "reference says it is unknown; Omission = incomplete, or says it does not know although evidence exists.\n"
        'Reply with JSON only: {{"label": "Correct"|"Hallucination"|"Omission"}}'),
}

_OBJ = re.compile(r"\{.*?\}", re.DOTALL)


def parse_json_field(text: str, key: str) -> Any:
    """The value of ``key`` in the last JSON object of ``text`` that has it, else ``None``."""
    found = None
    for m in _OBJ.finditer(text or ""):
        try:
            obj = json.loads(m.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and key in obj:
            found = obj[key]
    return found


def judge_halumem(judge: Any, kind: str, fields: Sequence[dict[str, str]], *, max_new_tokens: int = 48,
                  batch_size: int = 8, seed: int = 0) -> list[dict[str, Any]]:
    """Judge HaluMem items of one ``kind`` (a key of :data:`HALUMEM_PROMPTS`), greedily.

    Returns per item ``{"score" | "label", "in_gold"?, "raw", tokens, seconds}``; an unreadable
    verdict gives ``None`` (an invalid judge call, kept in the "(all)" denominators)."""
    if kind not in HALUMEM_PROMPTS:
        raise ValueError(f"unknown HaluMem judge {kind!r}; known: {', '.join(HALUMEM_PROMPTS)}")
    template = HALUMEM_PROMPTS[kind]
    out: list[dict[str, Any]] = []
    for start in range(0, len(fields), batch_size):
        chunk = fields[start:start + batch_size]
        prompts = [[{"role": "user", "content": template.format(**f)}] for f in chunk]
        for r in judge.chat_batch(prompts, max_new_tokens=max_new_tokens, temperature=0.0, seed=seed):
            raw = r.raw_text or r.text
            rec: dict[str, Any] = {"raw": raw, "prompt_tokens": r.prompt_tokens,
                                   "completion_tokens": r.completion_tokens, "seconds": round(r.seconds, 4)}
            if kind in ("integrity", "accuracy"):
                s = parse_json_field(raw, "score")
                ok = isinstance(s, (int, float)) and not isinstance(s, bool) and s in (0, 1, 2)
                rec["score"] = int(s) if ok else None
                if kind == "accuracy":
                    g = parse_json_field(raw, "in_gold")
                    rec["in_gold"] = bool(g) if isinstance(g, bool) else False
            else:
                lab = parse_json_field(raw, "label")
                rec["label"] = lab if isinstance(lab, str) else None
            out.append(rec)
    return out
