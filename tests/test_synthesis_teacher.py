"""Tests of the LLM teacher with scripted chat objects (no real model is loaded)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from deltamem_lib.episodes import check_episode
from deltamem_lib.synthesis import SynthConfig, generate_episode
from deltamem_lib.synthesis.teacher import (
    ScriptedTeacherChat,
    StepError,
    TeacherConfig,
    extract_json,
    run_teacher,
)


@dataclass
class Reply:
    text: str


class Queue:
    """Answers each call with the next scripted string (and records the prompts)."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.prompts = []

    def chat(self, messages, *, max_new_tokens=256, temperature=0.0):
        self.prompts.append(messages)
        return Reply(self.answers.pop(0))


PROFILE = json.dumps({"name": "Ana Silva", "facts": [
    {"fact": "User lives in York.", "keywords": ["York"]},
    {"fact": "User works as a nurse.", "keywords": ["nurse"]},
    {"fact": "User has a dog named Rex.", "keywords": ["dog", "Rex"]}]})
TIMELINE = json.dumps({"events": [{"kind": "move", "summary": "Moved to Leeds."}]})
OPS = json.dumps({"operations": [
    {"op": "UPDATE", "memory_id": "m1", "content": "User lives in Leeds.", "keywords": ["Leeds"],
     "evolution": "intra"},
    {"op": "ADD", "memory_id": "m77", "content": "User enjoys chess.", "keywords": ["chess"],
     "evolution": "padding"}]})
DIALOGUE = json.dumps({"turns": [
    {"speaker": "user", "text": "I finally moved to Leeds!"},
    {"speaker": "assistant", "text": "Congratulations!"},
    {"speaker": "user", "text": "Chess club starts on Monday too."},
    {"speaker": "assistant", "text": "Have fun."}]})
CFG = TeacherConfig(users=1, sessions=1, max_retries=2)


def test_valid_answers_give_a_checked_episode_with_state_allocated_ids():
    chat = Queue([PROFILE, TIMELINE, OPS, DIALOGUE])
    episodes, report = run_teacher(chat, CFG)
    assert report.users_written == 1 and report.calls == 4 and report.invalid_responses == 0
    ep = episodes[0]
    check_episode(ep)
    ops = ep.sessions[0].gold_ops
    assert [o.memory_id for o in ops] == ["m1", "m4"]  # the model's "m77" is replaced by the state's id
    assert ops[0].evidence == ("t1",) and ops[1].evidence == ("t3",)
    assert [e.content for e in ep.sessions[0].state_after] == [
        "User lives in Leeds.", "User works as a nurse.", "User has a dog named Rex.", "User enjoys chess."]
    assert ("Step 3 of 4" in chat.prompts[2][0]["content"]
            and "[m1] User lives in York." in chat.prompts[2][1]["content"])


def test_malformed_answer_is_retried_with_the_reasons():
    chat = Queue(["Sure! Here is the profile: {\"name\": \"Ana\", \"facts\": [", PROFILE, TIMELINE, OPS,
                  DIALOGUE])
    episodes, report = run_teacher(chat, CFG)
    assert len(episodes) == 1
    assert (report.invalid_responses == 1 and report.recovered_by_retry == 1
            and report.invalid_by_step == {"profile": 1})
    retry = chat.prompts[1]
    assert retry[2] == {"role": "assistant", "content": "Sure! Here is the profile: {\"name\": \"Ana\", "
                                                        "\"facts\": ["}
    assert "invalid" in retry[3]["content"] and "JSON" in retry[3]["content"]


def test_always_invalid_answers_drop_the_user_and_are_reported():
    bad = "I am a small model and I like JSON."
    chat = Queue([bad] * 3)
    episodes, report = run_teacher(chat, CFG)
    assert episodes == [] and report.users_written == 0 and report.calls == 3
    (failure,) = report.failures
    assert failure.step == "profile" and failure.attempts == 3 and failure.response == bad
    assert "no JSON object found" in failure.errors[0]
    assert "dropped u00000: step profile" in report.summary()
    assert len(report.examples) == 3 and report.to_dict()["failures"][0]["step"] == "profile"


@pytest.mark.parametrize("ops,dialogue,reason", [
    (json.dumps({"operations": [{"op": "DELETE", "memory_id": "m9"}]}), DIALOGUE, "unknown memory id 'm9'"),
    (json.dumps({"operations": [{"op": "UPDATE", "memory_id": "m1", "content": "User lives in Leeds.",
                                 "keywords": ["Bradford"]}]}), DIALOGUE, "do not occur in the fact"),
    (json.dumps({"operations": [{"op": "UPDATE", "memory_id": "m1", "content": "User lives in Leeds.",
                                 "keywords": ["Leeds"], "evolution": "sideways"}]}), DIALOGUE, "evolution"),
    (OPS,
     json.dumps({"turns": [{"speaker": "user", "text": "I moved!"},
                           {"speaker": "assistant", "text": "Nice"}]}),
     "the user never says ['Leeds', 'chess']"),
])
def test_answers_that_would_break_integrity_are_rejected(ops, dialogue, reason):
    step = "dialogue" if dialogue is not DIALOGUE else "operations"
    answers = [PROFILE, TIMELINE] + ([ops] * 3 if step == "operations" else [ops] + [dialogue] * 3)
    episodes, report = run_teacher(Queue(answers), CFG)
    assert episodes == []
    (failure,) = report.failures
    assert failure.step == step and failure.session_index == 0
    assert any(reason in e for e in failure.errors), failure.errors


def test_a_failed_user_does_not_stop_the_others():
    chat = ScriptedTeacherChat(seed=0, sessions=3, p_malformed=0.3, p_invalid=0.3, always_fail=[1])
    episodes, report = run_teacher(chat, TeacherConfig(users=3, sessions=3))
    assert [e.user_id for e in episodes] == ["u00000", "u00002"]
    assert [f.user_id for f in report.failures] == ["u00001"] and report.failures[0].step == "operations"
    assert report.recovered_by_retry > 0 and report.invalid_responses >= report.recovered_by_retry + 3
    for ep in episodes:
        check_episode(ep)
    # With all answers valid, the teacher rebuilds the procedural user's operations exactly.
    procedural = generate_episode(SynthConfig(users=1, sessions=3, seed=0), 0)
    got = [(o.op, o.memory_id, o.content, o.keywords, o.evolution) for s in episodes[0].sessions
           for o in s.gold_ops]
    want = [(o.op, o.memory_id, o.content, o.keywords, o.evolution) for s in procedural.sessions
            for o in s.gold_ops]
    assert got == want


def test_extract_json():
    assert extract_json('```json\n{"a": 1}\n```') == {"a": 1}
    assert extract_json('Here: {"a": [1, 2]} hope that helps') == {"a": [1, 2]}
    assert extract_json("[1, 2]") == [1, 2]
    with pytest.raises(StepError, match="not valid JSON"):
        extract_json('{"a": 1,}')
    with pytest.raises(StepError, match="cut off"):
        extract_json('{"a": [1, 2')
    with pytest.raises(StepError, match="no JSON object"):
        extract_json("nothing here")


def test_teacher_config_validates():
    with pytest.raises(ValueError, match="users"):
        TeacherConfig(users=0)
    with pytest.raises(ValueError, match="max_retries"):
        TeacherConfig(max_retries=-1)
