"""Benchmark runs and ablations of DeltaMem (arXiv 2604.01560, §4: Tables 1–3, Figures 3–5).

* :mod:`.adapters`   — LoCoMo conversations, HaluMem users, PersonaMem contexts as the
  project's episodes (one memory per LoCoMo speaker; dia ids as turn ids; session dates);
* :mod:`.provenance` — the turns behind a memory, for evidence recall@k;
* :mod:`.answer`     — the Mem0-style short-answer prompt, full-context and MCQ prompts, batched answering;
* :mod:`.judge`      — LoCoMo's J (Mem0 judge prompt, several runs) and HaluMem's judges, any backend;
* :mod:`.runner`     — :func:`~.runner.run_benchmark`: ingest, answer, score; resumable;
  ``deltamem bench``;
* :mod:`.cumulative` — accuracy as sessions accumulate (Figures 4–5 analogue);
* :mod:`.ablations`  — lexical fidelity, ReAct vs one-shot, DELETE on/off, state vs outcome reward;
* :mod:`.report`     — published tables beside measured rows, figures that save their numbers;
* :mod:`.exercises`  — self-checks of notebook 05.

Submodules are imported on use (``from deltamem_lib.bench.runner import run_benchmark``).
"""
