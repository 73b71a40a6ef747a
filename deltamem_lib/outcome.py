"""The outcome reward: can the session's probe questions be answered from the memory?

DeltaMem rewards the *state* the manager leaves (``r_trans``); AtomMem and Memory-R1 reward
the *outcome* — whether a question about the user is answered correctly from the memory
(``docs/paper_notes.md`` §2–3). The workbook compares the two on the same data: after every
session the synthetic generator asks a few probe questions whose answers follow from the
gold state after it (:func:`deltamem_lib.synthesis.probes.probe_questions`: facts the session
added, changed or deleted, and a sample it left alone).

**The answerer is deterministic, not a language model.** The papers use a learned answer
model; a 135M model answering questions would add more noise than signal, and an LLM judge
is not available offline. So the outcome reward here uses a fixed reader that only sees the
question and the memory — never the gold answer or the gold memory ids:

* *span questions* ("Which city does the user live in?") — score every memory entry by how
  well it matches the question: Dice overlap of its content words with the question's
  content words plus the fixed words of the fact type's memory sentence (``"lives in"`` for
  ``home``); read the best entry (ties go to the *earlier* entry, so a stale fact that was
  added-to instead of updated wins, as it would confuse a real reader). The answer is correct
  when the gold answer occurs in it (:func:`~deltamem_lib.synthesis.probes.score_answer`);
* *yes/no questions* ("Is it still true that the user has a dog named Rex?") — "yes" when
  some entry states the claim: every key phrase of the claim that is in the question
  occurs in the entry and the word overlap is at least ``yes_threshold``; else "no".

The reward of a rollout is the share of its session's probes answered correctly. It is
coarse (a session has 1–5 probes, so the reward moves in steps of 0.2–1) and blind to what
the probes do not ask — that is the comparison the notebook makes with the dense state
reward.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .memory import MemoryEntry
from .mld import norm, tokens
from .synthesis import world
from .synthesis.probes import score_answer
from .synthesis.world import FACT_TYPES

__all__ = ["AnswerResult", "answer_probe", "entry_types", "outcome_accuracy", "question_terms"]

_STOP = frozenset(
    "a an the of to in on at for and or is are was were be been do does did what which who whom whose where "
    "when how name user user's s it its still true that currently has have with as by from this "
    "there".split())


# fact type -> catalogues of the synthetic world (module attributes) whose values identify its entries
_TYPE_VOCAB = {"home": ("CITIES",), "occupation": ("JOBS",), "employer": ("EMPLOYERS",),
               "pet": ("PET_SPECIES",), "injury": ("INJURIES",), "condition": ("CONDITIONS",),
               "allergy": ("ALLERGENS",), "diet": ("DIETS",), "hobby": ("HOBBIES",), "habit": ("HABITS",),
               "education": ("DEGREES", "FIELDS"), "vehicle": ("CARS",), "trip": ("PLACES",),
               "cuisine": ("CUISINES",), "music": ("MUSIC",), "author": ("AUTHORS",),
               "family": ("FAMILY_RELATIONS",)}


def _flatten(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _flatten(v)]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [s for v in value for s in _flatten(v)]
    return []


@lru_cache(maxsize=1)
def _world() -> tuple[dict[str, list[tuple[re.Pattern[str], int]]], dict[str, frozenset[str]]]:
    """Per fact type: patterns of its memory sentences (fixed words kept, slots → wildcards,
    the leading "User" dropped) with their number of fixed words, and its vocabulary."""
    patterns: dict[str, list[tuple[re.Pattern[str], int]]] = {}
    for name, spec in FACT_TYPES.items():
        pats = []
        for template in spec.templates.values():
            body = template.replace("{U}", "", 1) if template.startswith("{U}") else template
            parts = [p for p in re.split(r"(\{[^}]*\})", body) if p.startswith("{") or norm(p)]
            fixed = sum(len(norm(p).split()) for p in parts if not p.startswith("{"))
            rx = r"\b" + " ".join("(.+?)" if p.startswith("{") else re.escape(norm(p)) for p in parts) + "$"
            pats.append((re.compile(rx), fixed))
        patterns[name] = pats
    vocab = {name: frozenset(norm(v) for key in keys for v in _flatten(getattr(world, key, ())))
             for name, keys in _TYPE_VOCAB.items()}
    return patterns, vocab


def _fits(content: str) -> dict[str, int]:
    """Fact type → fixed words of its best-fitting sentence pattern, for every type the entry fits."""
    patterns, _ = _world()
    text = norm(content)
    out = {}
    for name, pats in patterns.items():
        best = max((fixed for rx, fixed in pats if rx.search(text)), default=None)
        if best is not None:
            out[name] = best
    return out


def _knows(fact_type: str, content: str) -> bool:
    """Whether the entry names a value of the fact type's vocabulary ("coeliac disease")."""
    _, vocab = _world()
    padded = f" {norm(content)} "
    return any(f" {v} " in padded for v in vocab.get(fact_type, ()))


def entry_types(content: str) -> list[str]:
    """The fact types an entry is read as: the types whose sentence pattern it fits, the most
    specific pattern first, narrowed by the world's vocabulary.

    ``"User has coeliac disease."`` fits the ``injury`` and ``condition`` patterns
    (``… has …``); the vocabulary says it is a condition. ``"User has a dog named Rex."`` fits
    ``pet`` and ``family`` (``… has … named …``) better than ``injury``; ``dog`` makes it a pet.
    """
    fits = _fits(content)
    if not fits:
        return []
    top = max(fits.values())
    best = [t for t, n in fits.items() if n == top]
    known = [t for t in best if _knows(t, content)]
    return known or best


def question_terms(probe: Mapping[str, Any]) -> list[str]:
    """The question's content words (what the reader matches entries of the right type with)."""
    return list(dict.fromkeys(w for w in tokens(str(probe.get("question", ""))) if w not in _STOP))


def _dice(a: Sequence[str], b: Sequence[str]) -> float:
    if not a and not b:
        return 0.0
    ca, cb = Counter(a), Counter(b)
    return 2 * sum((ca & cb).values()) / (sum(ca.values()) + sum(cb.values()))


def _content_words(text: str) -> list[str]:
    return [w for w in tokens(text) if w not in _STOP]


def _occurs(phrase: str, text: str) -> bool:
    p, t = tokens(phrase), tokens(text)
    n = len(p)
    return n > 0 and any(t[i:i + n] == p for i in range(len(t) - n + 1))


@dataclass(frozen=True)
class AnswerResult:
    """The answerer's reading of one probe: the entry it read, its answer, and the verdict."""

    question: str
    answer: str
    gold: str
    entry_id: str | None
    correct: bool


def answer_probe(entries: Iterable[MemoryEntry | Mapping[str, Any] | str], probe: Mapping[str, Any], *,
                 yes_threshold: float = 0.5) -> AnswerResult:
    """Answer one probe from memory entries with the deterministic reader (module docstring).

    Args:
        entries: the memory (entries, ``{"id", "content"}`` mappings or strings).
        probe: a probe of :func:`deltamem_lib.synthesis.probes.probe_questions` (``question``,
            ``answer``, ``answer_type``, ``fact_type``, ``keywords``).
        yes_threshold: least content-word overlap (Dice) for a "yes".
    """
    items: list[tuple[str | None, str]] = []
    for i, e in enumerate(entries):
        if isinstance(e, MemoryEntry):
            items.append((e.id, e.content))
        elif isinstance(e, Mapping):
            items.append((e.get("id"), str(e.get("content", ""))))
        else:
            items.append((f"#{i}", str(e)))
    question = str(probe["question"])
    if probe.get("answer_type") == "yes_no":
        q_words = _content_words(question)
        # key phrases of the claim: the probe's keywords that the question itself contains
        phrases = [k for k in probe.get("keywords", []) if _occurs(k, question)]
        best: tuple[float, str | None] = (0.0, None)
        for mid, content in items:
            overlap = _dice(q_words, _content_words(content))
            if all(_occurs(k, content) for k in phrases) and overlap > best[0]:
                best = (overlap, mid)
        said = "yes" if best[0] >= yes_threshold else "no"
        entry_id = best[1] if said == "yes" else None
    else:
        terms = question_terms(probe)
        ftype = probe.get("fact_type")
        scored = []
        for i, (mid, content) in enumerate(items):
            fits = _fits(content)
            if ftype not in fits:
                continue
            # rank: names a value of the asked type, is read as that type, words of the question, earlier
            scored.append((_knows(str(ftype), content), ftype in entry_types(content),
                           _dice(terms, _content_words(content)), -i, mid, content))
        if scored:
            *_, entry_id, said = max(scored)
        else:
            entry_id, said = None, "unknown"
    return AnswerResult(question, said, str(probe["answer"]), entry_id, bool(score_answer(probe, said)))


def outcome_accuracy(entries: Iterable[MemoryEntry | Mapping[str, Any] | str],
                     probes: Sequence[Mapping[str, Any]], **kw: Any) -> float:
    """Share of ``probes`` the deterministic reader answers correctly from ``entries``
    (1.0 when there are no probes: nothing was asked, nothing was missed)."""
    if not probes:
        return 1.0
    entries = list(entries)
    return sum(answer_probe(entries, p, **kw).correct for p in probes) / len(probes)
