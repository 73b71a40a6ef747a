"""The trained adapters shipped in data/adapters/: verified by SHA-256 before use, refused in one
line when a file is missing or changed, and never offered to another base model."""

import json
import shutil

import pytest

from deltamem_lib.models.shipped import ADAPTERS, ShippedAdapterError, sha256, shipped_adapters


def test_the_cpu_adapters_match_their_manifest():
    manifest = json.loads((ADAPTERS / "cpu" / "MANIFEST.json").read_text())
    found = shipped_adapters("cpu", ("sft", "sft+grpo"))
    assert [a.stage for a in found.adapters] == ["sft", "sft+grpo"]
    for adapter in found.adapters:
        entry = manifest["stages"][adapter.stage]
        assert set(entry["files"]) == {"adapter_config.json", "adapter_model.safetensors"}
        assert all(sha256(adapter.path / name) == digest for name, digest in entry["files"].items())
        # float16 LoRA, a few MB
        assert (adapter.path / "adapter_model.safetensors").stat().st_size < 6_000_000
        assert adapter.agent_options["prompt_style"] == "compact"  # the prompt it was trained on
    # what the manifest says must be checkable: the results file it cites is committed, with these numbers
    results = json.loads((ADAPTERS.parents[1] / manifest["results"]).read_text())
    for stage, entry in manifest["stages"].items():
        assert entry["heldout_r_trans"][stage] == results["evaluation"][stage]["r_trans_mean"]
    assert "sft+grpo" in found.note or "SFT+GRPO" in found.note


def copy_cpu(tmp_path):
    shutil.copytree(ADAPTERS / "cpu", tmp_path / "cpu")
    return tmp_path


def test_a_changed_file_is_refused_in_one_line(tmp_path):
    root = copy_cpu(tmp_path)
    weights = root / "cpu" / "sft-grpo" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    with pytest.raises(ShippedAdapterError) as err:
        shipped_adapters("cpu", ("sft", "sft+grpo"), root=root)
    assert str(weights) in str(err.value) and "SHA-256" in str(err.value) and "\n" not in str(err.value)
    # the intact one still loads
    assert shipped_adapters("cpu", ("sft",), root=root).adapters[0].stage == "sft"


def test_a_missing_file_or_unknown_stage_is_refused(tmp_path):
    root = copy_cpu(tmp_path)
    (root / "cpu" / "sft" / "adapter_config.json").unlink()
    with pytest.raises(ShippedAdapterError, match="adapter_config.json: missing"):
        shipped_adapters("cpu", ("sft",), root=root)
    with pytest.raises(ShippedAdapterError, match="no stage 'grpo'; shipped: sft, sft\\+grpo"):
        shipped_adapters("cpu", ("grpo",), root=root)


def test_no_adapter_for_another_model_or_profile():
    other = shipped_adapters("cpu", ("sft",), model="Qwen/Qwen3-0.6B")
    assert other.adapters == () and "not used" in other.note
    none = shipped_adapters("colab-t4", ("sft",), model="Qwen/Qwen3-0.6B")
    assert none.adapters == () and "ships no trained adapters" in none.note
    assert shipped_adapters("cpu", ()).adapters == ()


def test_notebook_05_can_take_the_shipped_adapter():
    from deltamem_lib.benchmarks.paths import find_rl_run

    rl = find_rl_run("/nonexistent", "smallest", "smollm2", adapter="shipped")
    assert rl.adapter == ADAPTERS / "cpu" / "sft-grpo" and rl.label.endswith("shipped)")
    assert rl.prompt_options == {"prompt_style": "compact", "related_k": 10} and rl.results.is_file()
    other = find_rl_run("/nonexistent", "smallest", "Qwen/Qwen3-0.6B", adapter="shipped")
    assert other.adapter is None and "not used" in other.note
