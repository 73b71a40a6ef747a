"""The benchmark runner (deltamem_lib.benchmarks): benchmarks as episodes, evidence recall, answering,
judging, resuming, the CLI, on the hand-made fixtures with scripted models."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from deltamem_lib.agent.systems import SessionResult
from deltamem_lib.benchmarks.answering import fit_history, personalise
from deltamem_lib.benchmarks.locomo import load_locomo, locomo_episodes, locomo_questions
from deltamem_lib.benchmarks.personamem import personamem_context
from deltamem_lib.benchmarks.provenance import attribute_turns, entry_sources
from deltamem_lib.benchmarks.runner import BenchConfig, run_benchmark, summary_line
from deltamem_lib.io import Journal
from deltamem_lib.memory import MemoryEntry, Operation, Source
from deltamem_lib.models.base import ChatModel, ChatResponse

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "samples"
LOCOMO = FIXTURES / "locomo_tiny.json"


class Scripted(ChatModel):
    """Answers by rule: one-shot prompts get one ADD per user turn, judges a verdict, questions
    a fixed word; ``fail_after`` raises after that many calls (an interruption)."""

    def __init__(self, name="scripted", answer="cello", verdict='{"label": "CORRECT"}', fail_after=None):
        super().__init__()
        self.name, self.answer, self.verdict, self.fail_after = name, answer, verdict, fail_after
        self.calls = 0

    def _generate(self, batch, *, max_new_tokens, temperature, tools, seed):
        out = []
        for msgs in batch:
            self.calls += 1
            if self.fail_after is not None and self.calls > self.fail_after:
                raise KeyboardInterrupt("interrupted")
            user = msgs[-1]["content"]
            if "Operations (JSON list)" in user:
                txt = json.dumps([{"op": "ADD", "content": f"User said {m.group(1)}"}
                                  for m in re.finditer(r"\] User: (.*)", user)])
            elif '"score"' in user:  # HaluMem integrity / accuracy judges
                txt = '{"score": 2, "in_gold": true}'
            elif "label" in user:  # LoCoMo's J and HaluMem's update / QA judges
                txt = self.verdict
            else:
                txt = self.answer
            out.append(ChatResponse(txt, [], prompt_tokens=10, completion_tokens=3, seconds=0.01,
                                    raw_text=txt))
        return out


class CitingSystem:
    """A memory system that stores every user turn as a memory citing that turn (``cite=True``)
    or citing nothing at all (``cite=False``)."""

    name = "citing"

    def __init__(self, cite=True):
        self.cite = cite

    def run(self, examples, *, seed=None):
        out = []
        for ex in examples:
            state = ex.state_before.copy()
            for t in ex.turns:
                if t.speaker == "user":
                    src = {"session_id": ex.session_id, "turns": [t.turn_id]} if self.cite else None
                    state.apply([Operation.add(f"User said: {t.text}")], timestamp=ex.date, source=src)
            out.append(SessionResult(self.name, ex.user_id, ex.session_id, state))
        return out


def _cfg(**kw):
    base = dict(benchmark="locomo", data=str(LOCOMO), system="deltamem-oneshot", retriever="lexical", top_k=5,
                recall_ks=(1, 5), batch_size=2)
    return BenchConfig(**{**base, **kw})


# ------------------------------------------------------------------ benchmarks as episodes
def test_locomo_conversation_becomes_one_episode_per_speaker_with_dia_ids_and_dates():
    conv = load_locomo(LOCOMO)[0]
    eps = locomo_episodes(conv)
    assert [ep.user_id for ep in eps] == ["toy-1:Ana", "toy-1:Ben"]
    ana, ben = eps
    assert [s.session_id for s in ana.sessions] == ["toy-1:S1", "toy-1:S2", "toy-1:S10"]  # numeric order
    assert [s.date for s in ana.sessions] == ["2023-03-03", "2023-06-20", "2024-01-01"]
    s1 = ana.sessions[0]
    assert [t.turn_id for t in s1.turns] == ["D1:1", "D1:2", "D1:3"]
    assert [t.speaker for t in s1.turns] == ["user", "assistant", "user"]  # Ana is the user in her memory
    assert [t.speaker for t in ben.sessions[0].turns] == ["assistant", "user", "assistant"]
    assert "[shares a photo: a photo of a grey cat on a sofa]" in s1.turns[1].text
    assert len(locomo_episodes(conv, max_sessions=2)[0].sessions) == 2
    with pytest.raises(ValueError, match="no speaker"):
        locomo_episodes(conv, speakers=["Zoe"])


def test_questions_asked_after_fewer_sessions_need_their_evidence_there():
    conv = load_locomo(LOCOMO)[0]
    assert len(locomo_questions(conv)) == 6  # categories 1-4
    first = locomo_questions(conv, max_sessions=1)
    assert [q.question for q in first] == ["What instrument is Ana learning?"]
    two = {q.question for q in locomo_questions(conv, max_sessions=2)}
    assert "In which year did Ben run his first half marathon?" in two
    assert not any("Lisbon" in (q.answer or "") for q in locomo_questions(conv, max_sessions=2))


def test_personalise_and_attribution():
    assert (personalise("User's cat is called Pixel; the user loves her.", "Ben")
            == "Ben's cat is called Pixel; Ben loves her.")
    conv = load_locomo(LOCOMO)[0]
    turns = locomo_episodes(conv)[1].sessions[0].turns
    assert attribute_turns("User adopted a cat called Pixel.", turns) == ("D1:2",)
    assert attribute_turns("zzz", turns) == ()
    e = MemoryEntry("m1", "User adopted a cat.", "2023-03-03", Source("toy-1:S1", ()))
    assert entry_sources(e, {"toy-1:S1": turns}) == ("toy-1:S1", ("D1:2",), "attributed")
    assert entry_sources(e, {"toy-1:S1": turns}, attribute=False)[2] == "none"
    rec = MemoryEntry("m2", "x", None, Source("toy-1:S1", ("D1:3",)))
    assert entry_sources(rec, {}) == ("toy-1:S1", ("D1:3",), "recorded")


def test_personamem_context_is_cut_at_every_question():
    msgs = [{"role": "system", "content": "persona"}] + [
        {"role": "user" if i % 2 else "assistant", "content": str(i)} for i in range(1, 8)]
    pm = personamem_context("c" * 64, msgs, [3, 5], block=3)
    assert pm.cuts == (3, 5, 8)
    assert pm.session_for(3) == 0 and pm.session_for(5) == 1 and pm.session_for(0) == -1
    assert [t.turn_id for t in pm.episode.sessions[0].turns] == ["m1", "m2"]  # the persona is not ingested
    with_persona = personamem_context("c" * 64, msgs, [3], block=10, include_persona=True)
    assert with_persona.episode.sessions[0].turns[0].text == "persona"
    with pytest.raises(ValueError, match="not a session boundary"):
        pm.session_for(4)


def test_fit_history_keeps_the_most_recent_sessions():
    count = lambda s: len(s.split())  # noqa: E731
    text, kept = fit_history(["a b c", "d e", "f g h"], 5, count)
    assert (text, kept) == ("d e\n\nf g h", 2)
    text, kept = fit_history(["a b c", "x\ny z w v"], 3, count)
    assert kept == 0 and text == "z w v"  # not even the last session fits: its end


# ---------------------------------------------------------------------- evidence recall
def _without_missing_evidence(tmp_path):
    data = json.loads(LOCOMO.read_text())
    for conv in data:
        conv["qa"] = [q for q in conv["qa"] if "D9:9" not in q["evidence"]]
    p = tmp_path / "locomo_clean.json"
    p.write_text(json.dumps(data))
    return p


@pytest.mark.parametrize("cite, expected", [(True, 1.0), (False, 0.0)])
def test_evidence_recall_end_to_end(tmp_path, monkeypatch, cite, expected):
    from deltamem_lib.agent import systems

    data = _without_missing_evidence(tmp_path)
    monkeypatch.setattr(systems, "make_system", lambda name, model=None, **kw: CitingSystem(cite))
    res = run_benchmark(_cfg(data=str(data), system="oracle", top_k=10, recall_ks=(1, 10)), tmp_path / "w",
                        answer_model=Scripted())
    rec = res["metrics"]["evidence_recall"]
    assert rec["turn"]["10"]["all"] == expected and rec["session"]["10"]["all"] == expected
    assert rec["turn"]["10"]["without_evidence"] == 1  # the open-domain question with no evidence
    assert rec["turn_sources"] == ({"recorded": rec["turn_sources"]["recorded"]} if cite
                                   else {"none": rec["turn_sources"]["none"]})
    if cite:
        assert rec["turn"]["1"]["all"] < 1.0  # the multi-hop question needs both hops: not at k = 1


# ------------------------------------------------------------------ answers and judges
def test_judge_absent_lists_what_was_not_computed(tmp_path):
    res = run_benchmark(_cfg(), tmp_path / "w", model=Scripted())
    assert res["metrics"]["j"] is None and "J" in res["not_computed"]
    assert res["labels"]["judge"] is None and res["cost"]["judge"] is None
    assert res["metrics"]["questions"] == 7 and 0 < res["metrics"]["f1"] < 1  # 6 + 1 scored questions
    cello = next(r for r in res["per_question"] if r["gold"] == "cello")
    assert cello["f1"] == 1.0 and cello["bleu1"] == 1.0
    assert res["cost"]["ingest"]["sessions"] == 8 and res["cost"]["answer"]["calls"] == 7
    assert res["cost"]["ingest"]["prompt_tokens"] == 80


def test_judge_runs_give_j_per_category_and_count_unreadable_verdicts(tmp_path):
    judge = Scripted(name="judge")
    res = run_benchmark(_cfg(judge_runs=3), tmp_path / "w", model=Scripted(), judge=judge)
    j = res["metrics"]["j"]
    assert (j["mean"] == 1.0 and j["std"] == 0.0 and j["per_run"] == [1.0] * 3
            and "J" not in res["not_computed"])
    assert all(r["J"] == 1.0 for r in res["metrics"]["per_category"])
    assert judge.calls == 21 and res["labels"]["judge"] == "judge" and res["labels"]["judge_runs"] == 3
    bad = run_benchmark(_cfg(), tmp_path / "w2", model=Scripted(),
                        judge=Scripted(name="bad", verdict="no idea"))
    assert bad["metrics"]["j"]["mean"] == 0.0 and bad["metrics"]["j"]["invalid_verdicts"] == 7


def test_interrupted_run_resumes_to_the_same_results(tmp_path):
    clean = run_benchmark(_cfg(), tmp_path / "clean", model=Scripted(), judge=Scripted(name="judge"))
    work = tmp_path / "resumed"
    for fail_after in (3, 9):  # inside ingestion (8 sessions), then inside answering
        with pytest.raises(KeyboardInterrupt):
            run_benchmark(_cfg(), work, model=Scripted(fail_after=fail_after), judge=Scripted(name="judge"))
    answered = Journal(work / "answers.jsonl")
    assert 0 < len(answered) < 7
    again = Scripted()
    res = run_benchmark(_cfg(), work, model=again, judge=Scripted(name="judge"))
    assert again.calls == 7 - len(answered)  # nothing done twice
    assert res["per_question"] == clean["per_question"] and res["metrics"] == clean["metrics"]
    with pytest.raises(ValueError, match="other settings"):
        run_benchmark(_cfg(top_k=3, recall_ks=(1,)), work, model=Scripted())


def test_a_torn_journal_line_is_dropped(tmp_path):
    j = Journal(tmp_path / "a.jsonl")
    j.add([{"key": "q1", "answer": "x"}, {"key": "q2", "answer": "y"}])
    with open(tmp_path / "a.jsonl", "a") as fh:
        fh.write('{"key": "q3", "ans')
    again = Journal(tmp_path / "a.jsonl")
    assert sorted(again.records) == ["q1", "q2"] and (tmp_path / "a.jsonl").read_text().count("\n") == 2


def test_full_context_reads_the_history_and_retrieves_nothing(tmp_path):
    answerer = Scripted(answer="Lisbon")
    res = run_benchmark(_cfg(system="full-context", context_tokens=40), tmp_path / "w", answer_model=answerer)
    assert res["metrics"]["evidence_recall"] is None and "evidence_recall" in res["not_computed"]
    assert res["cost"]["ingest"] is None
    rec = res["per_question"][0]
    assert rec["sessions_total"] == 3 and rec["sessions_in_context"] < 3  # 40 tokens: old sessions dropped


def test_halumem_and_personamem_paths(tmp_path):
    res = run_benchmark(_cfg(benchmark="halumem", data=str(FIXTURES / "halumem_tiny.jsonl")), tmp_path / "h",
                        model=Scripted())
    assert res["metrics"]["sessions_probed"] > 0 and any("QA" in k for k in res["not_computed"])
    assert res["data_source"] == "sample" and summary_line(res).startswith("SAMPLE DATA")
    judged = run_benchmark(_cfg(benchmark="halumem", data=str(FIXTURES / "halumem_tiny.jsonl")),
                           tmp_path / "h", model=Scripted(),
                           judge=Scripted(name="judge", verdict='{"label": "Correct"}'))
    assert judged["metrics"]["qa"]["correct"] == 1.0 and not judged["not_computed"]
    ext = judged["metrics"]["extraction"]  # a judge that finds every point: full recall, no resistance
    assert ext["recall"] == 1.0 and ext["fmr"] == 0.0 and ext["f1"] == 1.0
    # as LoCoMo: never silently
    with pytest.raises(ValueError, match=r"halumem_tiny\.jsonl: no user \['u-9999'\]"):
        run_benchmark(_cfg(benchmark="halumem", data=str(FIXTURES / "halumem_tiny.jsonl"),
                           sample_ids=("u-9999",)),
                      tmp_path / "h2", model=Scripted())
    pm = run_benchmark(_cfg(benchmark="personamem", data=str(FIXTURES / "personamem_questions_tiny.csv"),
                            contexts=str(FIXTURES / "personamem_contexts_tiny.jsonl"), personamem_block=2),
                       tmp_path / "p", model=Scripted(answer="(b)"))
    assert pm["metrics"]["questions"] == 3 and pm["metrics"]["accuracy"] == pytest.approx(1 / 3)
    with pytest.raises(FileNotFoundError, match="shared_contexts"):
        run_benchmark(_cfg(benchmark="personamem", data=str(FIXTURES / "personamem_questions_tiny.csv")),
                      tmp_path / "p2", model=Scripted())


def test_malformed_data_names_file_record_and_field(tmp_path):
    from deltamem_lib.io import DataFileError

    data = json.loads(LOCOMO.read_text())
    del data[1]["qa"][0]["evidence"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(DataFileError, match=r"bad\.json.*toy-2.*evidence"):
        run_benchmark(_cfg(data=str(bad)), tmp_path / "w", model=Scripted())


# ---------------------------------------------------------------------------- the CLI
class _Server(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = "cello" if body["messages"][-1]["content"].endswith("Answer:") else "[]"
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": text},
                                        "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 7, "completion_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_cli_on_the_tiny_fixture(tmp_path, monkeypatch, capsys):
    from deltamem_lib.cli import main

    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    key = "sk-test-NEVER-WRITTEN-42"
    monkeypatch.setenv("DELTAMEM_OPENAI_BASE_URL", f"http://127.0.0.1:{srv.server_address[1]}/v1")
    monkeypatch.setenv("DELTAMEM_OPENAI_API_KEY", key)
    try:
        out = tmp_path / "bench_locomo.json"
        rc = main(["bench", "locomo", "--data", str(LOCOMO), "--system", "noop",
                   "--answer-model", "openai:tiny",
                   "--retriever", "lexical", "--top-k", "3", "--profile", "test", "--out", str(out)])
        assert rc == 0
        res = json.loads(out.read_text())
        assert res["labels"]["answer_model"] == "tiny" and res["labels"]["profile"] == "test"
        assert res["metrics"]["questions"] == 7 and res["metrics"]["evidence_recall"]["k_per_speaker"] == [1]
        assert "J not computed" in capsys.readouterr().out
        assert (tmp_path / "bench_locomo.work" / "answers.jsonl").is_file()
        assert key not in out.read_text() and not any(key in p.read_text() for p in tmp_path.rglob("*.json*"))
        assert main(["bench", "locomo", "--data", str(tmp_path / "missing.json"), "--out", str(out)]) == 2
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.slow
def test_smollm2_answers_one_session(tmp_path):
    """The real path with SmolLM2-135M: one session, one question (answers are poor; the
    pipeline must run and record tokens and seconds)."""
    res = run_benchmark(_cfg(sample_ids=("toy-2",), max_new_tokens=32, answer_max_new_tokens=8,
                             recall_ks=(1,), top_k=3), tmp_path / "w")
    assert res["labels"]["memory_model"] == "SmolLM2-135M-Instruct" and res["metrics"]["questions"] == 1
    assert res["cost"]["ingest"]["prompt_tokens"] > 0 and res["cost"]["answer"]["seconds"] > 0


def test_locomo_observations_are_a_reference_memory_with_recorded_provenance(tmp_path):
    res = run_benchmark(_cfg(system="observations", sample_ids=("toy-1",), max_sessions=1), tmp_path / "w",
                        answer_model=Scripted())
    assert res["labels"]["memory_model"] is None and res["cost"]["ingest"]["prompt_tokens"] == 0
    assert res["cost"]["ingest"]["operations"] == 1  # the fixture has one observation, of Ana in session 1
    rec = res["metrics"]["evidence_recall"]
    assert rec["turn_sources"] == {"recorded": 1} and rec["turn"]["1"]["all"] == 1.0
    hits = res["per_question"][0]["retrieved"]["Ana"]
    assert hits[0][1:] == ["toy-1:S1", ["D1:1"], "recorded"]
    with pytest.raises(ValueError, match="LoCoMo only"):
        run_benchmark(_cfg(system="observations", benchmark="halumem"), tmp_path / "h")


def test_clean_answer():
    from deltamem_lib.benchmarks.answering import clean_answer

    assert clean_answer("<think>\nhmm\n</think>\n\nAnswer: 7 May 2023\nbecause …") == "7 May 2023"
    assert clean_answer("\n  Final answer - Paris.") == "Paris." and clean_answer("") == ""


def test_redact_keeps_scores_and_drops_benchmark_text(tmp_path):
    from deltamem_lib.benchmarks.runner import redact

    res = run_benchmark(_cfg(), tmp_path / "w", model=Scripted())
    red = redact(res)
    assert all("question" not in r and "gold" not in r and "f1" in r for r in red["per_question"])
    assert "question" in res["per_question"][0] and red["metrics"] == res["metrics"]
    # PersonaMem's records hold the model's raw answer as "response": it is kept, the gold option is not
    mcq = redact({"per_question": [{"question_id": "q1", "gold": "(b)", "response": "I think (b).",
                                    "parsed": "b"}]})
    assert mcq["per_question"] == [{"question_id": "q1", "response": "I think (b).", "parsed": "b"}]


def test_slug_names_a_work_folder_per_setting_that_matters():
    a = _cfg()
    assert a.slug() == _cfg().slug() and a.slug().startswith("locomo_deltamem-oneshot_")
    assert a.slug() == _cfg(profile="cpu", limit=3).slug()  # answers are journaled per question: same work
    assert a.slug() != _cfg(top_k=3, recall_ks=(1,)).slug() and a.slug() != _cfg(system="add-only").slug()


def test_each_system_ingests_its_own_memory_in_its_own_folder(tmp_path):
    # Two systems run side by side (as notebook 05 does): the system name reaches the memory writer,
    # and neither run reads the other's work. The scripted model writes memories for the one-shot
    # prompt only; add-only's extraction prompt gets an unreadable answer and stores nothing.
    res = {}
    for name in ("deltamem-oneshot", "add-only"):
        cfg = _cfg(system=name)
        res[name] = run_benchmark(cfg, tmp_path / cfg.slug(), model=Scripted())
        assert json.loads(
            (tmp_path / cfg.slug() / "ingest" / "ingest_manifest.json").read_text())["system"] == name
    one, add = res["deltamem-oneshot"], res["add-only"]
    assert one["labels"]["system"] == "deltamem-oneshot" and add["labels"]["system"] == "add-only"
    assert one["cost"]["ingest"]["operations"] > 0 == add["cost"]["ingest"]["operations"]
    assert add["cost"]["ingest"]["malformed_outputs"] == add["cost"]["ingest"]["sessions"]
    assert any(q["retrieved"] for q in one["per_question"]) and not any(
        hits for q in add["per_question"] for hits in q["retrieved"].values())
