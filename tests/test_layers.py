"""The package's layers point down: every import of every module (at the top and inside
functions) goes to a module of the same or a lower layer, and neither the modules nor the
parts (``agent``, ``synthesis``, ``memory`` …) import each other in a cycle.

The order is the one ``deltamem_lib/__init__.py`` documents; a new module must be placed here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "deltamem_lib"

# lowest first; a part is the first name under deltamem_lib ("" is the package itself)
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("memory and reward", ("", "io", "redaction", "textnorm", "workdir", "typed_settings", "config",
                           "ablation_names", "hardware", "embeddings", "memory", "mld", "mistakes")),
    ("data", ("episodes", "synthesis", "outcome")),
    ("models", ("models",)),
    ("agent", ("agent", "retrieval")),
    ("training", ("training",)),
    ("benchmarks", ("benchmarks",)),
    ("teaching and commands", ("teaching", "commands", "cli", "cli_errors", "argtypes", "__main__",
                               "notebook_job", "notebook_setup")),
]
LAYER_OF = {part: i for i, (_, parts) in enumerate(LAYERS) for part in parts}

# Parts that stay apart although the layer order would let the higher import the lower: what
# both need sits in a lower layer (the outcome reward's reader, deltamem_lib/outcome.py, serves
# the training reward and the benchmarks' accumulation curves).
APART: list[tuple[str, str]] = [("benchmarks", "training")]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def part_of(module: str) -> str:
    names = module.split(".")
    return names[1] if len(names) > 1 else ""


def imports_of(module: str, source: str | None = None) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its file, at the top or inside
    functions (``from X import y`` counts as an import of ``X.y`` when that is a module, else
    of ``X``). ``source`` replaces the file's text (for the test of this function)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    text = path.read_text(encoding="utf-8") if source is None else source
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in MODULES else origin
                       for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target.startswith("deltamem_lib") and target != module:
                found.add(target)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_every_module_has_a_layer() -> None:
    assert len(MODULES) > 50
    missing = sorted(m for m in MODULES if part_of(m) not in LAYER_OF)
    assert not missing, f"place these modules in LAYERS of tests/test_layers.py: {missing}"


def test_imports_point_down() -> None:
    upward = [f"{m} ({LAYERS[LAYER_OF[part_of(m)]][0]}) imports {t} ({LAYERS[LAYER_OF[part_of(t)]][0]})"
              for m, targets in GRAPH.items() for t in sorted(targets)
              if LAYER_OF[part_of(t)] > LAYER_OF[part_of(m)]]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_parts_kept_apart_do_not_import_each_other() -> None:
    crossing = [f"{m} imports {t}" for m, targets in GRAPH.items() for t in sorted(targets)
                for a, b in APART if {part_of(m), part_of(t)} == {a, b}]
    assert not crossing, "move what both need to a lower layer:\n" + "\n".join(crossing)


def test_no_cycle_between_modules() -> None:
    assert find_cycle(GRAPH) is None, f"module cycle: {' -> '.join(find_cycle(GRAPH))}"


def test_no_cycle_between_parts() -> None:
    parts: dict[str, set[str]] = defaultdict(set)
    for m, targets in GRAPH.items():
        parts[part_of(m)] |= {part_of(t) for t in targets if part_of(t) != part_of(m)}
    cycle = find_cycle(parts)
    assert cycle is None, f"cycle between parts: {' -> '.join(cycle)}"


@pytest.mark.parametrize("graph, has_cycle", [({"a": {"b"}, "b": {"c"}, "c": set()}, False),
                                               ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True)])
def test_find_cycle_finds_cycles(graph: dict[str, set[str]], has_cycle: bool) -> None:
    assert (find_cycle(graph) is not None) == has_cycle


def test_imports_inside_functions_are_counted() -> None:
    source = ("def f():\n    from ..training import pipeline\n    from .. import io\n    import "
              "deltamem_lib.mld\n")
    assert imports_of("deltamem_lib.agent.env", source) == {"deltamem_lib.training.pipeline",
                                                            "deltamem_lib.io", "deltamem_lib.mld"}
    source = "class A:\n    def f(self):\n        from . import io\n        from .synthesis import teacher\n"
    assert imports_of("deltamem_lib.memory", source) == {"deltamem_lib.io", "deltamem_lib.synthesis.teacher"}


# Third-party libraries slow enough to import (seconds) that a module may import them, or a
# package module that imports them, inside the function that needs them.
HEAVY = ("torch", "transformers", "trl", "peft", "sentence_transformers", "vllm")


def top_level_imports(module: str) -> tuple[set[str], set[str]]:
    """``module``'s imports outside any function: (package modules, third-party top names)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    inner = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             for n in ast.walk(f) if n is not f}
    own: set[str] = set()
    third: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in inner or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        own |= imports_of(module, ast.unparse(node))
        if not (isinstance(node, ast.ImportFrom) and node.level):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            third |= {n.split(".")[0] for n in names if not n.startswith("deltamem_lib")}
    return own, third


def heavy_modules() -> set[str]:
    """The package modules whose import, at module level and transitively, imports a HEAVY library."""
    tops = {m: top_level_imports(m) for m in MODULES}
    heavy = {m for m, (_, third) in tops.items() if third & set(HEAVY)}
    changed = True
    while changed:
        changed = False
        for m, (own, _) in tops.items():
            if m not in heavy and own & heavy:
                heavy.add(m)
                changed = True
    return heavy


def imports_inside_functions(module: str) -> list[tuple[int, str]]:
    """(line, target) of every package import inside a function of ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for f in ast.walk(tree):
        if not isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(f):
            if node is not f and isinstance(node, (ast.Import, ast.ImportFrom)):
                out += [(node.lineno, t) for t in sorted(imports_of(module, ast.unparse(node)))]
    return out


def test_package_imports_sit_at_the_top_unless_they_pull_a_heavy_library() -> None:
    heavy = heavy_modules()
    assert "deltamem_lib.training.pipeline" in heavy and "deltamem_lib.memory" not in heavy
    lazy = [f"{MODULES[m].relative_to(PACKAGE.parent)}:{line}: {t}" for m in MODULES
            for line, t in imports_inside_functions(m) if t not in heavy]
    assert not lazy, ("move these imports to the top of their module (they import nothing heavy):\n"
                      + "\n".join(lazy))


def test_the_cli_loads_no_teaching_module_and_no_matplotlib() -> None:
    """Building the ``deltamem`` parser imports every command; none of them may pull in the
    notebooks' teaching modules or matplotlib (a fresh interpreter, so other tests' imports
    do not count)."""
    code = ("import sys, deltamem_lib.cli as cli; cli.build_parser(); "
            "bad = sorted(m for m in sys.modules if m == 'matplotlib' or "
            "m.startswith('deltamem_lib.teaching')); print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent,
                          timeout=300)
    assert done.returncode == 0, f"the CLI imports: {done.stdout.strip()} {done.stderr[-2000:]}"
