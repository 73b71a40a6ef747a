"""Speed of the MLD reward (issue targets, measured on the 2-core CPU machine).

1. GRPO scores a whole group of rollouts at once: the batch reward for 64 rollouts of
   typical session deltas (at most 10 changed entries each), lexical similarity.
   Target: under 50 ms.
2. The state scope on 200-entry states, the fast path against the plain per-pair version
   (``memory_levenshtein_reference``). Target: at least 20x faster.

Run: ``python speed/bench_mld.py`` (prints the figures and exits 1 if a target is missed
with ``--strict``).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from deltamem_lib.mld import memory_levenshtein, memory_levenshtein_batch, memory_levenshtein_reference

CITIES = ["Leeds", "Berlin", "Hamburg", "Lisbon", "Osaka", "Denver", "Cork", "Tallinn", "Quito", "Perth"]
JOBS = ["nurse", "teacher", "plumber", "architect", "barista", "pilot", "chemist", "editor"]
PETS = ["cat", "dog", "parrot", "rabbit", "hamster"]
NAMES = ["Miso", "Rex", "Pip", "Luna", "Otis", "Nala", "Bean", "Juno"]
HOBBIES = ["chess", "climbing", "pottery", "jazz piano", "birdwatching", "sourdough baking", "rowing"]


def fact(rnd: random.Random, k: int) -> dict:
    kind = k % 4
    if kind == 0:
        c = rnd.choice(CITIES)
        return {"content": f"User lives in {c} near the old harbour district", "keywords": [c]}
    if kind == 1:
        j = rnd.choice(JOBS)
        return {"content": f"User works as a {j} at a company in town", "keywords": [j]}
    if kind == 2:
        p, n = rnd.choice(PETS), rnd.choice(NAMES)
        return {"content": f"User has a {p} named {n}", "keywords": [p, n]}
    h = rnd.choice(HOBBIES)
    return {"content": f"User took up {h} {k} weeks ago", "keywords": [h]}


def paraphrase(rnd: random.Random, g: dict) -> str:
    words = g["content"].split()
    if rnd.random() < 0.3:  # keyword dropped / changed
        words = [rnd.choice(CITIES) if w in g["keywords"] else w for w in words]
    if rnd.random() < 0.5:
        words.insert(rnd.randrange(len(words)), "now")
    return " ".join(words)


def rollout_batch(rnd: random.Random, n_rollouts: int = 64, max_changes: int = 10):
    gold_delta = [fact(rnd, k) for k in range(rnd.randint(3, max_changes))]
    pairs = []
    for _ in range(n_rollouts):
        pred = [paraphrase(rnd, g) for g in gold_delta if rnd.random() < 0.8]
        pred += [fact(rnd, rnd.randrange(40))["content"] for _ in range(rnd.randint(0, 3))]
        pairs.append((pred[:max_changes], gold_delta))
    return pairs


def big_states(rnd: random.Random, n: int = 200, rewritten: float = 0.5):
    """Two 200-entry states; a share ``rewritten`` of the predicted entries is reworded."""
    gold = [fact(rnd, k) for k in range(n)]
    pred = [paraphrase(rnd, g) + " today" if rnd.random() < rewritten else g["content"] for g in gold]
    rnd.shuffle(pred)
    return pred, gold


def timeit(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="timing repetitions (median reported)")
    ap.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = ap.parse_args()
    rnd = random.Random(0)

    pairs = rollout_batch(rnd)
    memory_levenshtein_batch(pairs)  # warm-up
    t_batch = timeit(lambda: memory_levenshtein_batch(pairs), args.repeat)
    n_changed = statistics.mean(len(p) + len(g) for p, g in pairs)
    print(f"batch reward, 64 rollouts (mean {n_changed:.1f} changed entries pred+gold), lexical: "
          f"{t_batch * 1e3:.1f} ms  (target < 50 ms)")

    ratios = {}
    for share in (0.5, 1.0):
        pred, gold = big_states(rnd, rewritten=share)
        fast = memory_levenshtein(pred, gold, scope="state")
        ref = memory_levenshtein_reference(pred, gold, scope="state")
        assert abs(fast.reward - ref) < 1e-9, (fast.reward, ref)
        t_fast = timeit(lambda: memory_levenshtein(pred, gold, scope="state"), args.repeat)
        t_ref = timeit(lambda: memory_levenshtein_reference(pred, gold, scope="state"),
                       max(1, args.repeat // 2))
        ratios[share] = t_ref / t_fast
        print(f"state scope, 200-entry states, {share:.0%} of entries reworded "
              f"(|ΔP|={len(fast.delta_pred)}, |ΔG|={len(fast.delta_gold)}): fast {t_fast * 1e3:.1f} ms, "
              f"plain per-pair {t_ref * 1e3:.1f} ms, ratio {ratios[share]:.1f}x  (target >= 20x)")
    ok = t_batch < 0.050 and min(ratios.values()) >= 20
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    raise SystemExit(main())
