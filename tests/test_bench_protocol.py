"""The benchmark runner is one driver over a small per-benchmark protocol: every benchmark has
its protocol in its own module, and the driver runs any protocol through the same steps
(prepare, ingest, ask, answer, score) without knowing which benchmark it is."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from test_bench_runner import Scripted

from deltamem_lib.benchmarks import protocol as P
from deltamem_lib.benchmarks import runner
from deltamem_lib.benchmarks.runner import PROTOCOLS, BenchConfig, run_benchmark
from deltamem_lib.episodes import Episode, Session, Turn

PACKAGE = Path(__file__).resolve().parents[1] / "deltamem_lib"


def test_every_benchmark_has_its_protocol_in_its_own_module():
    assert list(PROTOCOLS) == list(P.BENCHMARKS)
    for name, proto in PROTOCOLS.items():
        assert proto.name == name
        # the benchmark's own module, or a module of its own package (benchmarks/locomo/ …)
        assert type(proto).__module__.split(".")[:3] == ["deltamem_lib", "benchmarks", name]
        module = importlib.import_module(f"deltamem_lib.benchmarks.{name}")
        assert type(proto).__name__ in module.__all__
        for step in ("prepare", "ask", "score"):  # each step written by the benchmark, not inherited
            assert step in type(proto).__dict__, f"{name}: {step} not implemented"


def test_no_two_modules_share_a_file_name():
    seen: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        assert path.name not in seen, (f"{path.relative_to(PACKAGE)} and "
                                       f"{seen[path.name].relative_to(PACKAGE)}")
        seen[path.name] = path


class ToyProtocol(P.Protocol):
    """One user, two sessions; one question after the last session, scored by exact match."""

    name = "locomo"  # stands in for a real benchmark in the registry
    full_context_gaps = {"memory": "toy: nothing to read"}

    def __init__(self):
        self.calls = []

    def prepare(self, cfg):
        self.calls.append("prepare")
        turns = (Turn("t0", "user", "I play the cello."),)
        sessions = tuple(Session(session_id=f"u1:s{i}", date=f"2024-01-0{i + 1}", event={}, turns=turns,
                                 gold_ops=(), state_after=()) for i in range(2))
        ep = Episode(user_id="u1", persona={}, initial_memory=(), sessions=sessions, meta={})
        return P.Plan([ep], {"users": ["u1"]}, items=["What does u1 play?"])

    def ask(self, cfg, plan, states, answer_model, retriever):
        self.calls.append("ask")
        self.states = states
        return P.Questions(["q1"], [[{"role": "user", "content": plan.items[0]}]], [{"note": "asked"}])

    def score(self, cfg, plan, asked, answers, judge, work, not_computed):
        self.calls.append("score")
        self.judge = judge
        rec = {**asked.records[0], "key": "q1", "answer": answers["q1"]["answer"]}
        return {"accuracy": float(rec["answer"] == "cello")}, [rec], None


def test_the_driver_runs_any_protocol_through_the_same_steps(tmp_path, monkeypatch):
    toy = ToyProtocol()
    monkeypatch.setitem(PROTOCOLS, "locomo", toy)
    data = tmp_path / "toy.json"
    data.write_text("[]")
    cfg = BenchConfig(benchmark="locomo", data=str(data), system="noop", retriever="lexical", top_k=1,
                      recall_ks=(1,), judge_model="")
    model = Scripted(answer="cello")
    res = run_benchmark(cfg, tmp_path / "work", model=model)
    assert toy.calls == ["prepare", "ask", "score"]
    assert [len(s) for s in toy.states.values()] == [2]  # the memory after each ingested session
    assert res["metrics"] == {"accuracy": 1.0}
    assert res["per_question"] == [{"note": "asked", "key": "q1", "answer": "cello"}]
    assert (res["data"]["users"] == ["u1"] and res["data"]["path"] == str(data)
            and len(res["data"]["sha256"]) == 64)
    assert res["cost"]["ingest"]["sessions"] == 2 and res["cost"]["answer"]["calls"] == 1
    assert res["not_computed"] == {}
    # a rerun answers nothing again: the answer journal is the driver's, for every protocol
    calls = model.calls
    run_benchmark(cfg, tmp_path / "work", model=model)
    assert model.calls == calls


def test_full_context_skips_ingestion_and_names_the_protocols_gaps(tmp_path, monkeypatch):
    toy = ToyProtocol()
    monkeypatch.setitem(PROTOCOLS, "locomo", toy)
    data = tmp_path / "toy.json"
    data.write_text("[]")
    cfg = BenchConfig(benchmark="locomo", data=str(data), system="full-context", retriever="lexical", top_k=1,
                      recall_ks=(1,))
    res = run_benchmark(cfg, tmp_path / "work", model=Scripted(answer="violin"))
    assert toy.states == {}
    assert res["cost"]["ingest"] is None
    assert res["not_computed"] == {"memory": "toy: nothing to read"}
    assert res["metrics"] == {"accuracy": 0.0}


@pytest.mark.parametrize("judged", [True, False])
def test_the_judge_is_loaded_only_for_protocols_that_need_one(tmp_path, monkeypatch, judged):
    toy = ToyProtocol()
    toy.judged = judged
    monkeypatch.setitem(PROTOCOLS, "locomo", toy)
    data = tmp_path / "toy.json"
    data.write_text("[]")
    cfg = BenchConfig(benchmark="locomo", data=str(data), system="noop", retriever="lexical", top_k=1,
                      recall_ks=(1,))
    judge = Scripted(name="judge")
    res = run_benchmark(cfg, tmp_path / "work", model=Scripted(), judge=judge)
    assert (toy.judge is judge) is judged
    assert res["labels"]["judge"] == ("judge" if judged else None)
    assert runner.label_line(res).count("no judge") == (0 if judged else 1)


@pytest.mark.parametrize("bench, data, contexts", [
    ("halumem", "halumem_tiny.jsonl", ""),
    ("personamem", "personamem_questions_tiny.csv", "personamem_contexts_tiny.jsonl")])
def test_full_context_answers_every_question_from_a_transcript_cut_to_the_budget(tmp_path, bench, data,
                                                                                 contexts):
    samples = PACKAGE.parent / "data" / "samples"

    def prompts(budget):
        seen = []

        class Recording(Scripted):
            def _generate(self, batch, **kw):
                seen.extend(m[-1]["content"] for m in batch)
                return super()._generate(batch, **kw)

        cfg = BenchConfig(benchmark=bench, data=str(samples / data), system="full-context",
                          retriever="lexical", contexts=str(samples / contexts) if contexts else "", top_k=5,
                          recall_ks=(1,), context_tokens=budget)
        res = run_benchmark(cfg, tmp_path / f"work{budget}", model=Recording())
        assert res["metrics"]["questions"] == len(seen) > 0 and res["cost"]["ingest"] is None
        assert set(PROTOCOLS[bench].full_context_gaps) <= set(res["not_computed"])
        return seen

    whole, cut = prompts(0), prompts(20)  # 0: the model's context, which holds every tiny transcript
    assert len(whole) == len(cut)
    assert (all(len(c) <= len(w) for c, w in zip(cut, whole))
            and any(len(c) < len(w) for c, w in zip(cut, whole)))
