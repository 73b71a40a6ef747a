"""LLM judges of the benchmarks, through any chat backend (optional everywhere).

* LoCoMo's **J** (``docs/benchmark_protocols.md`` §1): the Mem0 judge prompt, kept character for character in
  :data:`MEM0_JUDGE_PROMPT`, temperature 0, verdicts read by
  :func:`parse_judge_verdict`. Mem0 reports the mean ± std
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

The LoCoMo judge's prompt (:data:`MEM0_JUDGE_PROMPT`, Mem0's, character for character), its
verdict parser (:func:`parse_judge_verdict`) and :func:`aggregate_judge_runs` (J as mean ± std
over runs) live here too.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "HALUMEM_PROMPTS", "MEM0_JUDGE_PROMPT", "JudgeRunsSummary", "JudgeVerdict", "aggregate_judge_runs",
    "format_judge_prompt", "judge_halumem", "judge_locomo", "parse_judge_verdict", "parse_json_field",
]


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
        "reference says it is unknown; Omission = incomplete, or says it does not know although evidence "
        "exists.\n"
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


# =========================================================================== LLM judge

#: The Mem0 judge prompt (``mem0ai/mem0`` ``evaluation/metrics/llm_judge.py``
#: ``ACCURACY_PROMPT``), kept character for character — including its typographic quotes —
#: because the judge score depends on the prompt. Fill it with :func:`format_judge_prompt`.
#: Its long lines are broken with a backslash-newline, which Python drops: the text is unchanged.
MEM0_JUDGE_PROMPT = """
Your task is to label an answer to a question as ’CORRECT’ or ’WRONG’. You will be given the following data:
    (1) a question (posed by one user to another user), 
    (2) a ’gold’ (ground truth) answer, 
    (3) a generated answer
which you will score as CORRECT/WRONG.

The point of the question is to ask about something one user should know about the other user based on their \
prior conversations.
The gold answer will usually be a concise and short answer that includes the referenced topic, for example:
Question: Do you remember what I got the last time I went to Hawaii?
Gold answer: A shell necklace
The generated answer might be much longer, but you should be generous with your grading - as long as it \
touches on the same topic as the gold answer, it should be counted as CORRECT. 

For time related questions, the gold answer will be a specific date, month, year, etc. The generated answer \
might be much longer or use relative time references (like "last Tuesday" or "next month"), but you should \
be generous with your grading - as long as it refers to the same date or time period as the gold answer, it \
should be counted as CORRECT. Even if the format differs (e.g., "May 7th" vs "7 May"), consider it CORRECT \
if it's the same date.

Now it’s time for the real question:
Question: {question}
Gold answer: {gold_answer}
Generated answer: {generated_answer}

First, provide a short (one sentence) explanation of your reasoning, then finish with CORRECT or WRONG. 
Do NOT include both CORRECT and WRONG in your response, or it will break the evaluation script.

Just return the label CORRECT or WRONG in a json format with the key as "label".
"""  # noqa: W291 (the original has trailing blanks)


def format_judge_prompt(question: str, gold_answer: Any, generated_answer: str) -> str:
    """The judge's user message. ``gold_answer`` goes through ``str`` as in Mem0's
    ``evals.py`` (integer answers such as 2022 become ``"2022"``). Send it as one user
    message at temperature 0 with JSON output (``response_format={"type": "json_object"}``)."""
    return MEM0_JUDGE_PROMPT.format(question=question, gold_answer=str(gold_answer),
                                    generated_answer=generated_answer)


@dataclass(frozen=True)
class JudgeVerdict:
    """A parsed judge output: ``label`` is ``"CORRECT"``, ``"WRONG"`` or ``None`` (could not
    be read; ``note`` says why). ``note`` is also set when a label was recovered from
    output that was not clean JSON."""

    label: str | None
    note: str | None
    raw: str

    @property
    def score(self) -> int | None:
        """1 for CORRECT, 0 for WRONG, ``None`` when unreadable."""
        return None if self.label is None else int(self.label == "CORRECT")

    @property
    def ok(self) -> bool:
        return self.label is not None


_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_LABEL_KV = re.compile(r"""["']?label["']?\s*[:=]\s*["']?\s*([A-Za-z]+)""", re.IGNORECASE)
_BARE = re.compile(r"\b(CORRECT|WRONG)\b")


def _norm_label(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    v = value.strip().strip("\"'’.!* ").upper()
    return v if v in ("CORRECT", "WRONG") else None


def _json_objects(text: str) -> list[Any]:
    dec = json.JSONDecoder()
    found = []
    for i, ch in enumerate(text):
        if ch == "{":
            try:
                obj, _ = dec.raw_decode(text, i)
            except json.JSONDecodeError:
                continue
            found.append(obj)
    return found


def parse_judge_verdict(output: str | None) -> JudgeVerdict:
    """Read the judge's JSON verdict without ever raising.

    Accepted, in order: the whole output (code fences removed) as JSON with a ``label`` key;
    the last JSON object with a ``label`` key inside a longer text; a ``label: X`` pair in
    broken JSON; finally a single bare ``CORRECT`` or ``WRONG`` in the text (the prompt asks
    for a sentence of reasoning first). Labels are read case-insensitively. Anything else —
    empty output, an unknown label, both CORRECT and WRONG — gives ``label=None`` and a
    ``note`` saying why. (Mem0's script scores any label other than exactly "CORRECT" as 0
    and crashes on non-JSON; count ``None`` as wrong to reproduce it, see
    :func:`aggregate_judge_runs`.)
    """
    raw = "" if output is None else str(output)
    text = _FENCE.sub("", raw.strip()).strip()
    if not text:
        return JudgeVerdict(None, "empty judge output", raw)
    candidates: list[Any] = []
    whole = True
    try:
        candidates.append(json.loads(text))
    except json.JSONDecodeError:
        whole = False
        candidates.extend(reversed(_json_objects(text)))
    for obj in candidates:
        if isinstance(obj, dict):
            keys = {str(k).lower(): v for k, v in obj.items()}
            if "label" in keys:
                label = _norm_label(keys["label"])
                if label is None:
                    return JudgeVerdict(None, f"label {keys['label']!r} is neither CORRECT nor WRONG", raw)
                note = None if whole else "label read from JSON inside text"
                return JudgeVerdict(label, note, raw)
    m = _LABEL_KV.search(text)
    if m:
        label = _norm_label(m[1])
        if label is None:
            return JudgeVerdict(None, f"label {m[1]!r} is neither CORRECT nor WRONG", raw)
        return JudgeVerdict(label, "label read from malformed JSON", raw)
    bare = set(_BARE.findall(text))
    if len(bare) == 1:
        return JudgeVerdict(bare.pop(), "no JSON; label read from the text", raw)
    if len(bare) == 2:
        return JudgeVerdict(None, "output contains both CORRECT and WRONG and no JSON label", raw)
    return JudgeVerdict(None, "no label found (expected JSON {\"label\": \"CORRECT\"|\"WRONG\"})", raw)


@dataclass(frozen=True)
class JudgeRunsSummary:
    """J over several judge runs (docs/benchmark_protocols.md §1: Mem0 reports mean ± std over 10 runs).

    ``per_run`` is each run's accuracy; ``mean``/``std`` are over runs; ``question_means``
    is each question's score averaged over runs (feed it to :func:`per_category_table`)."""

    mean: float
    std: float
    per_run: tuple[float, ...]
    n_runs: int
    n_questions: int
    n_invalid: int  # unreadable verdicts, all runs together
    invalid_policy: str
    question_means: tuple[float | None, ...] = ()


def _score_of(v: Any) -> int | None:
    if isinstance(v, JudgeVerdict):
        return v.score
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if v in (0, 1):
        return int(v)
    raise ValueError(f"judge score {v!r}: expected 1, 0, True, False, None or a JudgeVerdict")


def aggregate_judge_runs(runs: Sequence[Sequence[Any]], *, invalid: str = "wrong",
                         ddof: int = 1) -> JudgeRunsSummary:
    """Aggregate J over judge runs; ``runs[r][i]`` is run ``r``'s verdict on question ``i``
    (1/0/True/False, ``None`` for unreadable, or a :class:`JudgeVerdict`).

    ``invalid="wrong"`` counts unreadable verdicts as 0 (Mem0's behaviour);
    ``invalid="exclude"`` drops them from that run's denominator. ``std`` is the sample
    standard deviation of the run accuracies (``ddof=1``; 0.0 for a single run); pass
    ``ddof=0`` for the population value. All runs must score the same questions.
    """
    if invalid not in ("wrong", "exclude"):
        raise ValueError(f"invalid={invalid!r}: use 'wrong' or 'exclude'")
    if not runs:
        raise ValueError("no judge runs given")
    n_q = len(runs[0])
    if any(len(r) != n_q for r in runs):
        raise ValueError(f"judge runs differ in length ({sorted({len(r) for r in runs})}); every run "
                         "must score the same questions in the same order")
    if n_q == 0:
        raise ValueError("judge runs hold no questions")
    scores = [[_score_of(v) for v in r] for r in runs]
    n_invalid = sum(s is None for r in scores for s in r)
    per_run = []
    for r in scores:
        vals = [0 if s is None else s for s in r] if invalid == "wrong" else [s for s in r if s is not None]
        per_run.append(sum(vals) / len(vals) if vals else float("nan"))
    if ddof not in (0, 1):
        raise ValueError(f"ddof={ddof}: use 1 (sample std) or 0 (population std)")
    if len(per_run) == 1:
        std = 0.0
    else:
        std = statistics.stdev(per_run) if ddof == 1 else statistics.pstdev(per_run)
    q_means: list[float | None] = []
    for i in range(n_q):
        col = [r[i] for r in scores]
        vals = ([0 if s is None else s for s in col] if invalid == "wrong"
                else [s for s in col if s is not None])
        q_means.append(sum(vals) / len(vals) if vals else None)
    return JudgeRunsSummary(mean=statistics.fmean(per_run), std=std, per_run=tuple(per_run),
                            n_runs=len(runs), n_questions=n_q, n_invalid=n_invalid,
                            invalid_policy=invalid, question_means=tuple(q_means))
