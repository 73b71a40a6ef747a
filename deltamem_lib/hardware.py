"""What the machine can do, read once: the GPU's compute capability and memory, whether vLLM
is installed, the precision to train and decode in, and how to hand memory back.

Every GPU decision of the workbook reads a :class:`DeviceCaps`, so a test can pass the
capabilities of a T4 or an A100 without owning one.

* **Precision.** bf16 needs a GPU of compute capability 8.0 or higher (A100, L4, H100) to
  run in hardware; ``torch.cuda.is_bf16_supported()`` also answers yes on a T4 (7.5), where
  bf16 is emulated and slower than fp16, so it is not asked. :func:`best_precision`:
  capability ≥ 8.0 → bf16, any other CUDA GPU → fp16, no GPU → fp32.
* **Releasing memory.** :func:`release_memory` shuts a vLLM engine down (when one is given),
  collects garbage and empties torch's CUDA cache; called between two trainers of one
  process, so the second does not find the first one's memory still held.
* **Encoder device.** :func:`encoder_device`: the MiniLM encoder of the embedding similarity
  and retriever runs on the GPU when there is one (``DELTAMEM_ENCODER_DEVICE`` overrides).
"""

from __future__ import annotations

import gc
import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from typing import Any

from .config import pick_device

__all__ = ["DeviceCaps", "PreflightError", "best_precision", "device_caps", "encoder_device",
           "release_memory", "vllm_version"]

#: The first compute capability with bf16 in hardware (Ampere: A100, A10, L4; then H100 ...).
BF16_CAPABILITY = (8, 0)


class PreflightError(RuntimeError):
    """A run needs something this machine lacks (a GPU, bf16, vLLM, memory); the message says
    how to get it (:func:`deltamem_lib.training.gpu.preflight`)."""


@dataclass(frozen=True)
class DeviceCaps:
    """What a training or inference run may rely on."""

    kind: str = "cpu"                               # "cuda", "mps" or "cpu"
    name: str = ""                                  # the GPU's name, e.g. "Tesla T4"
    capability: tuple[int, int] | None = None       # CUDA compute capability, e.g. (7, 5)
    total_gb: float = 0.0                           # GPU memory in GB (10^9 bytes)
    vllm: str | None = None                         # the installed vLLM version, None when missing
    torch: str = ""                                 # the installed torch version

    @property
    def cuda(self) -> bool:
        return self.kind == "cuda"

    @property
    def bf16(self) -> bool:
        """bf16 in hardware (not emulated)."""
        return self.cuda and self.capability is not None and tuple(self.capability) >= BF16_CAPABILITY


#: Capabilities of the GPUs the profiles are written for (for tests and estimates).
T4 = DeviceCaps("cuda", "Tesla T4", (7, 5), 15.8)
A100_40GB = DeviceCaps("cuda", "NVIDIA A100-SXM4-40GB", (8, 0), 42.4)


def vllm_version() -> str | None:
    """The installed vLLM's version, or None (the package is looked up, not imported)."""
    if importlib.util.find_spec("vllm") is None:
        return None
    try:
        return importlib.metadata.version("vllm")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def device_caps(device: str = "auto") -> DeviceCaps:
    """The capabilities of ``device`` (``"auto"``: the first CUDA GPU, else MPS, else CPU)."""
    kind = pick_device(device).split(":")[0]
    try:
        import torch
    except ImportError:  # pragma: no cover
        return DeviceCaps("cpu", vllm=vllm_version())
    version = str(torch.__version__)
    if kind != "cuda" or not torch.cuda.is_available():
        return DeviceCaps("mps" if kind == "mps" else "cpu", vllm=vllm_version(), torch=version)
    index = torch.device(pick_device(device)).index or 0
    props = torch.cuda.get_device_properties(index)
    return DeviceCaps("cuda", str(props.name), (int(props.major), int(props.minor)),
                      round(props.total_memory / 1e9, 1), vllm_version(), version)


def best_precision(caps: DeviceCaps) -> str:
    """``"bf16"`` on a GPU with bf16 in hardware, ``"fp16"`` on an older GPU (T4), else ``"fp32"``."""
    if caps.bf16:
        return "bf16"
    return "fp16" if caps.cuda else "fp32"


def encoder_device() -> str:
    """Where the sentence encoder runs: ``$DELTAMEM_ENCODER_DEVICE``, else ``cuda`` when a GPU is
    visible, else ``cpu``. MiniLM is 22 M parameters: on a GPU it costs about 100 MB."""
    chosen = os.environ.get("DELTAMEM_ENCODER_DEVICE", "").strip()
    if chosen:
        return chosen
    try:
        import torch
    except ImportError:  # pragma: no cover
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def _shutdown_vllm(llm: Any) -> None:
    """Stop a vLLM ``LLM`` engine and its distributed state (best effort: every step that the
    installed vLLM does not offer is skipped)."""
    engine = getattr(llm, "llm_engine", None)
    for owner, method in ((engine, "shutdown"), (getattr(engine, "engine_core", None), "shutdown"),
                          (llm, "shutdown")):
        fn = getattr(owner, method, None) if owner is not None else None
        if callable(fn):
            try:
                fn()
            except Exception:  # noqa: BLE001 — already stopped or not stoppable this way
                pass
    try:
        from vllm.distributed.parallel_state import destroy_distributed_environment, destroy_model_parallel
    except ImportError:
        return
    for fn in (destroy_model_parallel, destroy_distributed_environment):
        try:
            fn()
        except Exception:  # noqa: BLE001 — nothing to destroy
            pass


def release_memory(*owners: Any) -> dict[str, Any]:
    """Hand back what trainers held: shut down the vLLM engine of each owner (a TRL trainer,
    whose colocated engine is ``vllm_generation.llm``, or an engine itself), drop the references, collect
    garbage and empty torch's CUDA cache. Returns what was done (for logs and tests)."""
    done: dict[str, Any] = {"vllm_engines": 0, "collected": 0, "cuda_cache_emptied": False}
    for owner in owners:
        # TRL 1.16 keeps the colocated engine at trainer.vllm_generation.llm
        holder = getattr(owner, "vllm_generation", None) or owner
        llm = getattr(holder, "llm", None)
        if llm is None and hasattr(owner, "llm_engine"):
            llm = owner
        if llm is not None:
            _shutdown_vllm(llm)
            done["vllm_engines"] += 1
            if llm is not owner:
                try:
                    holder.llm = None
                except AttributeError:
                    pass
    done["collected"] = gc.collect()
    try:
        import torch
    except ImportError:  # pragma: no cover
        return done
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        done["cuda_cache_emptied"] = True
    return done
