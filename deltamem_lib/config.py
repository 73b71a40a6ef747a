"""Profiles, settings, seeding and devices: the ground floor every notebook and command reads.

A *profile* (``profiles/NAME.yaml``) holds the parameters of each notebook::

    name: cpu
    description: 2-core CPU, the main job
    notebooks:
      02_mld_reward:
        similarity: embedding

A notebook's ``parameters`` cell holds only literal assignments whose defaults are the
``smallest`` profile (:func:`notebook_parameters` reads them); a profile's section for a
notebook sets some of them. :func:`check_profile` compares every key of a profile with the
parameters a notebook declares (the tests run it on every profile), and
:func:`settings_from_profile` turns a section into a typed settings dataclass
(:mod:`deltamem_lib.typed_settings`).

What happens inside a notebook's kernel — applying the profile's section to its globals,
reading the values papermill injected, the run folders of its setup cell — is in
:mod:`deltamem_lib.notebook_setup`.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import random
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .typed_settings import Layer, SettingsError, build, check_value, closest

__all__ = [
    "setting",
    "settings_from_profile",
    "settings_help",
    "PROJECT_ROOT",
    "PROFILES_DIR",
    "NOTEBOOKS_DIR",
    "Profile",
    "cache_dir",
    "check_parameters",
    "check_profile",
    "check_profile_strictly",
    "list_profiles",
    "load_profile",
    "notebook_parameters",
    "pick_device",
    "seed_everything",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROFILES_DIR = PROJECT_ROOT / "profiles"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"


def setting(default: Any, help: str) -> Any:
    """A dataclass field carrying a one-line help (the house style for settings, as in
    cleanrl); a mutable default is copied for every instance."""
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


def field_help(cls: Any) -> dict[str, str]:
    """Field name → one-line help of a settings dataclass (each field's ``metadata["help"]``)."""
    return {f.name: f.metadata["help"] for f in fields(cls)}


def settings_help(cls: Any) -> str:
    """One line per field of a settings dataclass: ``name = default  # help``."""
    lines = []
    for f in fields(cls):
        default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
        lines.append(f"{f.name} = {default!r}  # {f.metadata.get('help', '')}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Profile:
    """A named set of notebook parameters (see the module docstring)."""

    name: str
    description: str
    notebooks: Mapping[str, Mapping[str, Any]]
    path: Path | None = None

    def params_for(self, notebook: str) -> dict[str, Any]:
        """Parameters for one notebook (by stem, e.g. ``02_mld_reward``), plus ``profile``."""
        stem = Path(notebook).stem
        return {"profile": self.name, **dict(self.notebooks.get(stem, {}))}


def list_profiles(directory: Path = PROFILES_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))


def load_profile(name_or_path: str | os.PathLike[str], directory: Path = PROFILES_DIR) -> Profile:
    """Load ``profiles/<name>.yaml`` (or a path). Unknown names list the known ones."""
    import yaml

    p = Path(name_or_path)
    if p.suffix not in (".yaml", ".yml"):
        p = directory / f"{name_or_path}.yaml"
    if not p.exists():
        raise FileNotFoundError(
            f"profile {str(name_or_path)!r} not found; known profiles: {', '.join(list_profiles(directory))}"
        )
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{p}: invalid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"{p}: expected a mapping with 'name', 'description', 'notebooks'")
    notebooks = data.get("notebooks") or {}
    if not isinstance(notebooks, Mapping) or not all(isinstance(v, Mapping) for v in notebooks.values()):
        raise ValueError(f"{p}: 'notebooks' must map notebook names to parameter mappings")
    return Profile(
        name=str(data.get("name", p.stem)),
        description=str(data.get("description", "")),
        notebooks={k: dict(v) for k, v in notebooks.items()},
        path=p,
    )


def declared_types(stem: str, notebooks_dir: Path = NOTEBOOKS_DIR) -> dict[str, Any]:
    """Parameter name → the type of its default in the notebook's parameters cell (``None``
    default: any type; an int where a float is declared is fine, as in :func:`check_profile`).
    Empty when the notebook is not there (an installed package without notebooks)."""
    nb = notebooks_dir / f"{stem}.ipynb"
    if not nb.exists():
        return {}
    return {k: (Any if v is None else type(v)) for k, v in notebook_parameters(nb).items()}


def _as_layers(overrides: Any) -> list[Layer]:
    if overrides is None:
        return []
    if isinstance(overrides, Layer):
        return [overrides]
    if isinstance(overrides, Mapping):
        return [Layer(dict(overrides), "overrides")]
    return list(overrides)


def settings_from_profile(cls: Any, profile: Profile | str | os.PathLike[str] | None, overrides: Any = None,
                          *, section: str, names: Mapping[str, str | None] | None = None,
                          fixed: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None,
                          notebooks_dir: Path = NOTEBOOKS_DIR) -> Any:
    """The one way from a profile to a settings dataclass (``TrainConfig.from_profile`` and its
    siblings call it): resolve ``profile`` (a name in ``profiles/``, a YAML path anywhere, a
    :class:`Profile`, or None for the defaults), take its ``section`` (a notebook's stem), then
    ``fixed`` (values the caller sets, e.g. the benchmark), ``params`` (a notebook's values named
    as in the section, e.g. its ``globals()`` after
    :func:`~deltamem_lib.notebook_setup.apply_profile`: only the parameters the notebook
    declares are read) and ``overrides`` (a mapping of typed values, or
    :class:`~deltamem_lib.typed_settings.Layer` objects such as ``--set``), and check
    every name and type once against ``cls``'s fields, then ``cls.validate()``
    (:func:`deltamem_lib.typed_settings.build`).

    A section key named otherwise than the field is mapped by ``names`` (None: no setting of
    ``cls``); a key the notebook declares but ``cls`` lacks (``output_dir``) is type-checked
    against the notebook's declaration and left out; any other key is refused
    (:class:`~deltamem_lib.typed_settings.SettingsError`, naming the file, the section and the closest name).
    """
    declared = declared_types(section, notebooks_dir)
    layers: list[Layer] = []
    if profile is not None:
        prof = profile if isinstance(profile, Profile) else load_profile(profile)
        base: dict[str, Any] = {}
        if "profile" in {f.name for f in fields(cls)}:
            base["profile"] = prof.name
        layers.append(Layer(base, f"profile {prof.path or prof.name}"))
        values = dict(prof.notebooks.get(section, {}))
        values.pop("profile", None)
        layers.append(Layer(values, f"profile {prof.path or prof.name} [{section}]", names=dict(names or {}),
                            extra_types=declared))
    if fixed:
        layers.append(Layer(dict(fixed), f"{cls.__name__} of {section}"))
    if params is not None:
        own = {k: v for k, v in params.items() if k in declared}
        layers.append(Layer(own, f"{section} parameters", names=dict(names or {}), extra_types=declared))
    return build(cls, layers + _as_layers(overrides))


def notebook_parameters(notebook: str | os.PathLike[str]) -> dict[str, Any]:
    """The literal assignments of a notebook's cell tagged ``parameters``.

    Raises ``ValueError`` if there is no such cell or it holds anything but literal
    assignments (the house style: literals only, each with a help comment).
    """
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            out: dict[str, Any] = {}
            for node in ast.parse(src).body:
                if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                        and isinstance(node.targets[0], ast.Name)):
                    raise ValueError(f"{notebook}: parameters cell may only hold `name = literal` lines")
                try:
                    out[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    raise ValueError(
                        f"{notebook}: parameter {node.targets[0].id!r} is not a literal"
                    ) from None
            return out
    raise ValueError(f"{notebook}: no cell tagged 'parameters'")


def check_parameters(values: Mapping[str, Any], declared: Mapping[str, Any], source: str) -> None:
    """Raise :class:`~deltamem_lib.typed_settings.SettingsError` (one line: ``source``, the name,
    what is wrong) for the first value whose name the notebook does not declare (naming the
    closest declared one) or whose type is not the declared default's (an int for a float is
    fine; a bool is no int). ``declared``: name → type, as :func:`declared_types` gives."""
    for key, value in values.items():
        if key not in declared:
            raise SettingsError(f"{source}: {key!r} is no parameter of the notebook{closest(key, declared)}")
        try:
            check_value(value, declared[key])
        except ValueError as exc:
            raise SettingsError(f"{source}: {key}: {exc}") from None


def check_profile_strictly(profile: Profile, notebooks_dir: Path = NOTEBOOKS_DIR) -> None:
    """Raise a one-line :class:`~deltamem_lib.typed_settings.SettingsError` for the first problem
    of any section of ``profile`` (a section for no notebook, an unknown parameter, a wrong type:
    :func:`check_parameters`), naming the profile file and the section; the check
    ``deltamem notebooks`` runs before any notebook, so no key is dropped silently."""
    stems = sorted(p.stem for p in notebooks_dir.glob("*.ipynb"))
    for stem, params in profile.notebooks.items():
        source = f"profile {profile.path or profile.name} [{stem}]"
        if stem not in stems:
            raise SettingsError(f"{source}: no notebook {stem}.ipynb in {notebooks_dir}"
                                f"{closest(stem, stems)}")
        check_parameters(params, declared_types(stem, notebooks_dir), source)


def check_profile(profile: Profile, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[str]:
    """Problems of a profile: unknown notebooks, unknown parameter names, wrong types."""
    problems = []
    for stem, params in profile.notebooks.items():
        nb = notebooks_dir / f"{stem}.ipynb"
        if not nb.exists():
            problems.append(f"{profile.name}: no notebook {stem}.ipynb")
            continue
        declared = declared_types(stem, notebooks_dir)
        for key, value in params.items():  # the rules of check_parameters, every problem listed
            if key not in declared:
                problems.append(f"{profile.name}: {stem} has no parameter {key!r}{closest(key, declared)}")
                continue
            try:
                check_value(value, declared[key])
            except ValueError as exc:
                problems.append(f"{profile.name}: {stem}.{key}: {exc}")
    return problems


def seed_everything(seed: int, *, include_torch: bool | None = None) -> None:
    """Seed Python, NumPy and torch.

    ``include_torch=None`` seeds torch only if it is already imported, so notebooks that
    never use torch do not pay for importing it.
    """
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass
    if include_torch is None:
        include_torch = "torch" in sys.modules
    if include_torch:
        import torch

        torch.manual_seed(seed)


def pick_device(preferred: str = "auto") -> str:
    """``auto`` → ``cuda`` if available, else ``mps``, else ``cpu``; anything else as given."""
    if preferred != "auto":
        return preferred
    try:
        import torch
    except ImportError:  # pragma: no cover
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def cache_dir() -> Path:
    """Where converted models and other derived artefacts are cached.

    ``$DELTAMEM_CACHE`` if set, else ``~/.cache/deltamem``.
    """
    d = Path(os.environ.get("DELTAMEM_CACHE", Path.home() / ".cache" / "deltamem"))
    d.mkdir(parents=True, exist_ok=True)
    return d
