"""The GPU smoke test's own logic, on a CPU: it exits 0 without a GPU, picks the precisions a
GPU supports, names its results file after the GPU, summarises phases, and (slow) runs its
three phases — SFT, one-shot GRPO, ReAct GRPO through environment_factory — on a 2-layer
Qwen3 with ``--tiny --allow-cpu``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from deltamem_lib.hardware import A100_40GB, T4, DeviceCaps

SCRIPT = Path(__file__).resolve().parents[1] / "speed" / "gpu_smoke.py"


@pytest.fixture(scope="module")
def smoke():
    spec = importlib.util.spec_from_file_location("gpu_smoke", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_cuda_it_says_so_and_exits_0(smoke, monkeypatch, tmp_path, capsys):
    import deltamem_lib.hardware as hw

    monkeypatch.setattr(hw, "device_caps", lambda device="auto": DeviceCaps("cpu"))
    out = tmp_path / "r.json"
    assert smoke.main(["--out", str(out)]) == 0
    assert "no CUDA GPU" in capsys.readouterr().out and not out.exists()


def test_precisions_and_file_names_follow_the_gpu(smoke):
    assert smoke.precisions_for(T4, "0.6b", None) == ["fp16"]
    assert smoke.precisions_for(A100_40GB, "0.6b", None) == ["fp16", "bf16"]
    assert smoke.precisions_for(A100_40GB, "4b", None) == ["bf16"] and smoke.precisions_for(T4, "4b",
                                                                                            None) == ["fp16"]
    assert smoke.precisions_for(DeviceCaps("cpu"), "tiny", None) == ["fp32"]
    assert smoke.gpu_slug("NVIDIA A100-SXM4-40GB") == "a100-sxm4-40gb" and smoke.gpu_slug("Tesla T4") == "t4"
    assert smoke.SHAPES["0.6b"]["num_hidden_layers"] == 28 and smoke.SHAPES["4b"]["hidden_size"] == 2560


def test_phase_figures_leave_the_first_step_out(smoke):
    records = [{"step": 1, "step_time_s": 9.0, "num_tokens": 100, "peak_memory_gb": 1.0},
               {"step": 2, "step_time_s": 2.0, "num_tokens": 300, "peak_memory_gb": 2.0},
               {"step": 3, "step_time_s": 2.0, "num_tokens": 500, "peak_memory_gb": 1.5}]
    assert smoke.phase_figures(records) == {"steps": 3, "step_time_s": 2.0, "tokens_per_s": 100.0,
                                            "peak_memory_gb": 2.0}


@pytest.mark.slow
def test_tiny_run_goes_through_every_phase_of_the_real_pipeline(smoke, tmp_path):
    out = tmp_path / "gpu_smoke_cpu.json"
    assert smoke.main(["--tiny", "--allow-cpu", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert [p["phase"] for p in res["phases"]] == ["sft", "grpo_oneshot", "grpo_react"]
    for p in res["phases"]:
        assert "error" not in p, p.get("traceback")
        assert p["precision"] == "fp32" and p["steps"] >= 1 and p["step_time_s"] > 0 and p["tokens_per_s"] > 0
    assert res["failed"] == 0 and res["environment"]["trl"] and res["weights"].startswith("random")
