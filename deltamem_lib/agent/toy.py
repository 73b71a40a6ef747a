"""Two hand-written users: the smallest complete example of DeltaMem's data.

Each session has the three kinds of gold change the paper's data has (§3.2): a fact that
changes (UPDATE), a fact that is no longer true (DELETE), a new fact (ADD), and a session
with only small talk (no change). Tests, docstrings and the first cells of notebook 03 use
it; the procedural generator (:mod:`deltamem_lib.synthesis`) makes the real data sets.
"""

from __future__ import annotations

import copy
from typing import Any

from ..episodes import Episode, check_episode
from ..memory import MemoryState

__all__ = ["toy_episodes"]


def _turns(sid: str, *pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"turn_id": f"{sid}-t{i + 1}", "speaker": sp, "text": tx} for i, (sp, tx) in enumerate(pairs)]


# the two users as written by hand; toy_episodes() adds each session's state_after
_USER_1: dict[str, Any] = {
    "user_id": "toy1",
    "persona": {"name": "Alex"},
    "initial_memory": [
        {"id": "m1", "content": "User lives in Hamburg.", "keywords": ["Hamburg"]},
        {"id": "m2", "content": "User works as a nurse.", "keywords": ["nurse"]},
        {"id": "m3", "content": "User has a cat named Mia.", "keywords": ["cat", "Mia"]},
    ],
    "sessions": [
        {"session_id": "toy1-s1", "date": "2024-03-02",
         "event": {"kind": "move", "summary": "moved to Berlin"}, "turns": _turns("toy1-s1",
                         ("user", "Big news: I moved to Berlin last week, the flat is great."),
                         ("assistant", "Congratulations on the move! How are you settling in?"),
                         ("user", "Well. I also started running in the park every morning.")),
         "gold_ops": [
             {"op": "UPDATE", "memory_id": "m1", "content": "User lives in Berlin.", "keywords": ["Berlin"],
              "evolution": "intra", "evidence": ["toy1-s1-t1"]},
             {"op": "ADD", "memory_id": "m4", "content": "User goes running every morning.",
              "keywords": ["running"], "evolution": "padding", "evidence": ["toy1-s1-t3"]}]},
        {"session_id": "toy1-s2", "date": "2024-04-10", "event": {"kind": "loss", "summary": "cat died"},
         "turns": _turns("toy1-s2",
                         ("user", "Sad week. My cat Mia died on Monday, I don't have a cat any more."),
                         ("assistant", "I am so sorry about Mia.")),
         "gold_ops": [{"op": "DELETE", "memory_id": "m3", "content": None, "keywords": [],
                       "evolution": "intra", "evidence": ["toy1-s2-t1"]}]},
        {"session_id": "toy1-s3", "date": "2024-05-01", "event": {"kind": "chat", "summary": "weather"},
         "turns": _turns("toy1-s3",
                         ("user", "What a sunny day, isn't it?"),
                         ("assistant", "It is lovely outside.")),
         "gold_ops": []},
    ],
}
_USER_2: dict[str, Any] = {
    "user_id": "toy2",
    "persona": {"name": "Sam"},
    "initial_memory": [
        {"id": "m1", "content": "User works as a chef.", "keywords": ["chef"]},
        {"id": "m2", "content": "User plays the guitar.", "keywords": ["guitar"]},
    ],
    "sessions": [
        {"session_id": "toy2-s1", "date": "2024-02-14", "event": {"kind": "job", "summary": "new job"},
         "turns": _turns("toy2-s1",
                         ("user", "I quit the restaurant, I work as a baker now."),
                         ("assistant", "A baker! Early mornings then?"),
                         ("user", "Yes. And I adopted a dog called Rex.")),
         "gold_ops": [
             {"op": "UPDATE", "memory_id": "m1", "content": "User works as a baker.", "keywords": ["baker"],
              "evolution": "intra", "evidence": ["toy2-s1-t1"]},
             {"op": "ADD", "memory_id": "m3", "content": "User has a dog named Rex.",
              "keywords": ["dog", "Rex"], "evolution": "padding", "evidence": ["toy2-s1-t3"]}]},
        {"session_id": "toy2-s2", "date": "2024-03-20",
         "event": {"kind": "hobby", "summary": "stopped guitar"}, "turns": _turns("toy2-s2",
                         ("user", "I sold my guitar, I stopped playing it."),
                         ("assistant", "Do you miss it?")),
         "gold_ops": [{"op": "DELETE", "memory_id": "m2", "content": None, "keywords": [],
                       "evolution": "intra", "evidence": ["toy2-s2-t1"]}]},
    ],
}


def toy_episodes() -> list[Episode]:
    """Two users with three and two sessions; passes :func:`deltamem_lib.episodes.check_episode`."""
    episodes = []
    for raw in copy.deepcopy((_USER_1, _USER_2)):
        # state_after of every session, by replaying the gold operations
        state = MemoryState(raw["initial_memory"])
        for s in raw["sessions"]:
            state.apply(s["gold_ops"], timestamp=s["date"])
            s["state_after"] = [e.to_dict() for e in state]
        ep = Episode.from_dict(raw)
        check_episode(ep)
        episodes.append(ep)
    return episodes
