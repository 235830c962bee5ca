"""Fine-tune an MCIP guardian with SFT, LoRA or QLoRA (TRL ``SFTTrainer``), from a YAML recipe.

    # one GPU (or CPU: see recipes/smollm2-135m/lora_cpu.yaml and accelerate_configs/cpu.yaml)
    accelerate launch --config_file accelerate_configs/single_gpu.yaml train/sft.py \\
        --config recipes/qwen2.5-7b/lora.yaml
    # many GPUs with DeepSpeed ZeRO-3, overriding recipe keys on the command line
    accelerate launch --config_file accelerate_configs/zero3.yaml train/sft.py \\
        --config recipes/xlam-2-8b/full_paper.yaml --num_train_epochs 1 --output_dir runs/xlam-1ep

The loss covers the guardian's answer only (TRL's prompt-completion form), and the run fails at start if any
example would lose its answer or its end-of-turn token to truncation. The saved model stops generating at the
chat template's end of turn, and carries ``mcip_prompt.json`` so evaluation renders prompts the same way.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # `accelerate launch train/sft.py` (a path): train/ must not shadow libraries
    sys.path[0] = str(
        Path(__file__).resolve().parents[1]
    )  # (`accelerate launch -m train.sft` needs none of this)

import yaml
from trl import ModelConfig, SFTConfig, TrlParser, get_peft_config, get_quantization_config

from mcip.calls import META_KEY
from mcip.folder import ModelFolder
from mcip.io import write_json
from mcip.prompt import STYLES, PromptFormat
from mcip.record import RecordError
from mcip.scoring import end_of_turn_token
from train import precision
from train.data import (
    DataError,
    check_fits,
    check_label_masks,
    has_call_labels,
    load_splits,
    prepare_tokenized,
    truncated_share,
)
from train.models import load_gguf_model
from train.tracking import setup_wandb
from train.trainer import (
    CheckpointCallback,
    GuardianTrainer,
    Progress,
    SaveEveryMinutes,
    ScheduleCatchUp,
    resume_point,
    trained_step,
    warm_start,
)

logger = logging.getLogger("mcip.sft")


@dataclass
class ScriptArguments:
    dataset_name: str = field(
        default="data/mcip-synth", metadata={"help": "save_to_disk folder or Hub dataset id"}
    )
    dataset_train_split: str = "train"
    dataset_test_split: str | None = "validation"
    prompt_style: str | None = field(
        default=None,
        metadata={"help": f"re-render prompts from the trajectories in this style ({', '.join(STYLES)})"},
    )
    log_budget: int | None = field(
        default=None,
        metadata={"help": "tokens the rendered log may take at most, counted with this model's tokenizer"},
    )
    rationale: bool = field(default=True, metadata={"help": "train on the Rationale line too"})
    stream: bool = field(
        default=False,
        metadata={
            "help": "train on sessions as append-only chats, a verdict after every call and answer (per-call "
            "labels, meta.call_labels); each session gives one example or a few where it outgrows max_length"
        },
    )
    relations: bool = field(
        default=False,
        metadata={
            "help": "a facts line under each call in the prompt (mcip.relations: look-alike tools, repeated calls, "
            "where each argument came from), computed from the log alone; saved in mcip_prompt.json"
        },
    )
    drop_hidden_evidence: bool = field(
        default=False,
        metadata={
            "help": "train only on rows whose prompt still shows every flow an unsafe label rests on "
            "(meta.call_labels and the flows its rationale cites); the rows dropped are counted in the log and "
            "mcip_run.json"
        },
    )
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    base_model_id: str | None = field(
        default=None,
        metadata={"help": "Hub id of the base model, for the model card (when loading a local copy)"},
    )
    dataset_id: str | None = field(
        default=None, metadata={"help": "Hub id of the dataset, for the model card"}
    )
    warm_start: str | None = field(
        default=None,
        metadata={
            "help": "a shipped guardian folder (guardians/<name>) to continue from when output_dir holds no "
            "finished checkpoint: its adapter and step come back, the optimizer restarts. Several folders, "
            "comma-separated: the furthest-trained one"
        },
    )


@dataclass
class GuardianSFTConfig(SFTConfig):
    """TRL's SFTConfig plus the knobs TRL does not have, and ``bf16: auto`` (the default; ``train/precision.py``)."""

    bf16: str | None = field(
        default="auto",
        metadata={
            "help": "bf16 autocast: auto (CUDA with bf16, or a CPU with native bf16 where it is faster), true, false"
        },
    )
    lora_top_layers: int | None = field(
        default=None,
        metadata={"help": "LoRA on the top N decoder layers only: backward stops there (much faster on CPU)"},
    )
    gguf_file: str | None = field(default=None, metadata={"help": "load the base model from this GGUF file"})
    answer_only_logits: bool = field(
        default=False,
        metadata={"help": "run the LM head and the loss on the answer positions only (train/trainer.py)"},
    )
    completion_metrics: bool = field(
        default=False,
        metadata={"help": "per-step entropy and token accuracy over full-vocabulary logits (costly on CPU)"},
    )
    frozen_bf16_base: str = field(
        default="auto",
        metadata={
            "help": "LoRA on a CPU with native bf16: keep the frozen base in bf16 and the adapters in float32, with "
            "no autocast (auto: when train/precision.py chose bf16 on a CPU; true; false)"
        },
    )
    save_minutes: float | None = field(
        default=None, metadata={"help": "also save a checkpoint every N minutes of wall time"}
    )
    data_block: int | None = field(
        default=None,
        metadata={
            "help": "with group_by_length, draw the data order per block of N training rows, so a finished run "
            "given more rows by whole blocks (a larger max_train_samples) resumes on exactly the new rows"
        },
    )

    def __post_init__(self):
        import torch

        if self.fp16 and self.bf16 in (None, "auto"):
            self.bf16 = False
        accelerator = torch.cuda.is_available() or torch.backends.mps.is_available()
        self.precision = precision.choose(self.bf16, cpu=self.use_cpu or not accelerator)
        self.bf16 = self.precision.bf16
        if self.precision.device == "cpu" and not accelerator:
            self.use_cpu = True  # transformers refuses CPU bf16 unless told the run is on the CPU
        super().__post_init__()


def use_frozen_bf16_base(model_args: ModelConfig, training_args: GuardianSFTConfig) -> bool:
    """Why: under bf16 autocast every op casts the fp32 frozen weights again at every step (13% of a CPU step in
    ``copy_`` on an AMX machine); a base stored in bf16 needs no casts, and the fp32 adapters keep the updates
    exact. Only for LoRA (a full fine-tune needs fp32 master weights) without quantization."""
    value = str(training_args.frozen_bf16_base).strip().lower()
    if value in ("false", "no", "0"):
        return False
    lora = model_args.use_peft and not (model_args.load_in_4bit or model_args.load_in_8bit)
    if value in ("true", "yes", "1"):
        if not lora:
            raise DataError("frozen_bf16_base needs use_peft (LoRA) without 4/8-bit loading")
        return True
    return lora and training_args.precision.bf16 and training_args.precision.device == "cpu"


def _model_kwargs(model_args: ModelConfig, training_args: GuardianSFTConfig) -> dict:
    kwargs = dict(
        revision=model_args.model_revision,
        attn_implementation=model_args.attn_implementation,
        dtype=model_args.dtype,
    )
    return {**kwargs, **(training_args.model_init_kwargs or {})}


def _peft_config(model_args: ModelConfig, training_args: GuardianSFTConfig):
    peft_config = get_peft_config(model_args)
    if peft_config is not None and training_args.lora_top_layers:
        import dataclasses

        from transformers import AutoConfig

        if isinstance(model_args.lora_target_modules, str) or not model_args.lora_target_modules:
            raise DataError(
                "lora_top_layers needs lora_target_modules as a list of module names (e.g. [q_proj, k_proj, "
                "v_proj, o_proj, gate_proj, up_proj, down_proj]): PEFT cannot restrict 'all-linear' to some layers"
            )
        n_layers = AutoConfig.from_pretrained(
            model_args.model_name_or_path,
            gguf_file=training_args.gguf_file,
            trust_remote_code=training_args.trust_remote_code,
        ).num_hidden_layers
        top = min(training_args.lora_top_layers, n_layers)
        # replace() re-runs LoraConfig's own validation with the layers set
        peft_config = dataclasses.replace(
            peft_config, layers_to_transform=list(range(n_layers - top, n_layers))
        )
    return peft_config


def main(
    script_args: ScriptArguments,
    training_args: GuardianSFTConfig,
    model_args: ModelConfig,
    *,
    trainer_cls: type[GuardianTrainer] = GuardianTrainer,
) -> dict:
    """Train as the recipe says; ``trainer_cls`` is the trainer to build (a subclass adds instrumentation, as
    ``benchmarks/gpu_scale.py`` does)."""
    from transformers import AutoTokenizer

    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", level=logging.INFO)
    setup_wandb(training_args.report_to, notice=logger.warning)
    chosen = training_args.precision
    logger.info(
        "precision: %s on %s (%s; bf16=%s requested; CPU: %s)",
        "bf16 autocast" if chosen.bf16 else "float32",
        chosen.device,
        chosen.reason,
        chosen.requested,
        chosen.cpu,
    )
    if not training_args.run_name or training_args.run_name == training_args.output_dir:
        training_args.run_name = (
            f"{Path(training_args.output_dir).name}-{Path(script_args.dataset_name).name}"
        )

    tokenizer = AutoTokenizer.from_pretrained(
        model_args.model_name_or_path,
        revision=model_args.model_revision,
        gguf_file=training_args.gguf_file,
        trust_remote_code=training_args.trust_remote_code,
    )
    end_of_turn = end_of_turn_token(tokenizer)
    if tokenizer.eos_token != end_of_turn:  # generation must stop where the template closes the answer
        training_args.eos_token = end_of_turn

    data = load_splits(
        script_args.dataset_name, script_args.dataset_train_split, script_args.dataset_test_split
    )
    splits = {"train": (script_args.dataset_train_split, script_args.max_train_samples)}
    if training_args.eval_strategy != "no" and script_args.dataset_test_split:
        splits["eval"] = (script_args.dataset_test_split, script_args.max_eval_samples)
    prompt_format = PromptFormat(
        style=script_args.prompt_style or "full",
        log_budget=script_args.log_budget,
        rationale=script_args.rationale,
        end_of_turn=end_of_turn,
        stream=script_args.stream,
        relations=script_args.relations,
    )
    # the log's room is what these positions leave after the template and each row's answer (train/data.py)
    context = training_args.max_length or ModelFolder.read(model_args.model_name_or_path).context
    prepared = {}
    for key, (name, limit) in splits.items():
        split = data[name].select(range(min(limit, len(data[name])))) if limit else data[name]
        where = f"{script_args.dataset_name}[{name}]"
        prepared[key] = prepare_tokenized(
            split, tokenizer, prompt_format, context, training_args.dataset_num_proc, where
        )
        check_fits(prepared[key], training_args.max_length, key)
    # rendered and tokenized here (and cached), so TRL's own preparation has nothing left to do
    training_args.dataset_kwargs = {**(training_args.dataset_kwargs or {}), "skip_prepare_dataset": True}

    truncated = {key: truncated_share(ds) for key, ds in prepared.items()}
    logger.info(
        "prompts cut to fit (max_length %s, log_budget %s): %s", context, script_args.log_budget, truncated
    )
    if truncated["train"] > 0.25:
        logger.warning(
            "%.0f%% of training prompts were cut to fit: each says what was cut (tool results and unused tools "
            "first, the requests and arguments last); check log_budget and max_length (README, Long logs)",
            100 * truncated["train"],
        )
    hidden = evidence_hidden(prepared["train"], data[script_args.dataset_train_split], script_args)
    if script_args.drop_hidden_evidence:
        prepared["train"] = prepared["train"].filter(
            lambda h: not h, input_columns="hidden_evidence", desc="dropping rows with hidden evidence"
        )
    if use_frozen_bf16_base(model_args, training_args):
        model_args.dtype = "bfloat16"
        training_args.bf16, training_args.mixed_precision = False, "no"  # no autocast: nothing left to cast
        logger.info("precision: frozen bf16 base, float32 LoRA adapters, no autocast")
    if training_args.gguf_file:
        model = load_gguf_model(model_args.model_name_or_path, training_args.gguf_file, model_args.dtype)
    else:
        model = model_args.model_name_or_path
        training_args.model_init_kwargs = _model_kwargs(model_args, training_args)
    resume = training_args.resume_from_checkpoint
    if resume is None:
        resume = resume_point(training_args.output_dir)
        if resume is None and script_args.warm_start not in (None, "", "none", "null"):
            resume = warm_start(
                training_args.output_dir, script_args.warm_start, model_args.model_name_or_path
            )
        if resume:
            logger.info("resuming from %s", resume)
    done = finished_step(resume, planned_steps(training_args, len(prepared["train"])))
    if done is not None:
        logger.info(
            "%s has trained all %d planned steps (%d training rows): nothing to do. To go on, give it more rows "
            "(max_train_samples, in whole data_block blocks; make guardian GUARDIAN_EXAMPLES=N)",
            resume,
            done,
            len(prepared["train"]),
        )
        return {}
    callbacks = [
        CheckpointCallback(prompt_format, resume),
        Progress(),
        ScheduleCatchUp(resume and Path(resume)),
    ]
    if training_args.save_minutes:
        callbacks.append(SaveEveryMinutes(training_args.save_minutes))
    trainer = trainer_cls(
        callbacks=callbacks,
        model=model,
        args=training_args,
        train_dataset=prepared["train"],
        eval_dataset=prepared.get("eval"),
        processing_class=tokenizer,
        peft_config=_peft_config(model_args, training_args),
        quantization_config=None if training_args.gguf_file else get_quantization_config(model_args),
    )
    eot_id = tokenizer.convert_tokens_to_ids(end_of_turn)
    mask_stats = {
        "train": check_label_masks(
            trainer.train_dataset, len(prepared["train"]), eot_id, "train", training_args.packing
        )
    }
    if trainer.eval_dataset is not None:
        mask_stats["eval"] = check_label_masks(
            trainer.eval_dataset, len(prepared["eval"]), eot_id, "eval", bool(training_args.eval_packing)
        )

    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    metrics = {"train": result.metrics}
    trainer.log_metrics("train", result.metrics)
    trainer.save_metrics("train", result.metrics)
    if trainer.eval_dataset is not None:
        metrics["eval"] = trainer.evaluate()
        trainer.log_metrics("eval", metrics["eval"])
        trainer.save_metrics("eval", metrics["eval"])

    trainer.save_model(training_args.output_dir)
    trainer.save_state()  # the final trainer_state.json (log history) beside the model, not only in checkpoints
    if trainer.accelerator.is_main_process:
        out = Path(training_args.output_dir)
        prompt_format.save(out)
        write_json(
            out / "mcip_run.json",
            {
                "base_model_id": script_args.base_model_id,
                "dataset_id": script_args.dataset_id,
                "base_model": model_args.model_name_or_path,
                "dataset": script_args.dataset_name,
                "recipe": os.environ.get("MCIP_RECIPE"),
                "script_args": asdict(script_args),
                "peft": model_args.use_peft,
                "load_in_4bit": model_args.load_in_4bit,
                "lora": {
                    "r": model_args.lora_r,
                    "alpha": model_args.lora_alpha,
                    "target": model_args.lora_target_modules,
                    "top_layers": training_args.lora_top_layers,
                }
                if model_args.use_peft
                else None,
                "training": {
                    k: getattr(training_args, k)
                    for k in (
                        "learning_rate",
                        "num_train_epochs",
                        "max_steps",
                        "per_device_train_batch_size",
                        "gradient_accumulation_steps",
                        "max_length",
                        "packing",
                        "seed",
                        "lr_scheduler_type",
                    )
                },
                "precision": {
                    **training_args.precision.as_dict(),
                    "frozen_bf16_base": model_args.dtype == "bfloat16" and bool(model_args.use_peft),
                },
                "label_masks": mask_stats,
                "truncated_prompts": truncated,
                "hidden_evidence": hidden,
                "metrics": metrics,
            },
            sort_keys=True,
            default=str,
        )
        trainer.create_model_card(dataset_name=script_args.dataset_name, tags=["mcp", "guardian", "mcip"])
    if training_args.push_to_hub:
        trainer.push_to_hub(dataset_name=script_args.dataset_name)
    trainer.end()
    return metrics


def planned_steps(args: GuardianSFTConfig, rows: int) -> int:
    """The steps the run will take: ``max_steps``, else its epochs over ``rows`` (as ``Trainer`` counts them)."""
    if args.max_steps > 0:
        return args.max_steps
    batches = math.ceil(rows / (args.per_device_train_batch_size * max(args.world_size, 1)))
    return math.ceil(args.num_train_epochs * max(batches // args.gradient_accumulation_steps, 1))


def finished_step(checkpoint: str | Path | None, planned: int) -> int | None:
    """The step of ``checkpoint`` when it has already trained every planned step, else None."""
    step = trained_step(checkpoint)
    return step if step is not None and step >= planned else None


def evidence_hidden(prepared, source, script_args: ScriptArguments) -> dict:
    """How many training rows' prompts hide the flow their unsafe label turns on, and whether they are dropped.
    Dropping needs per-call labels, which say where that flow is: data without them is refused, naming the field."""
    rows = sum(prepared["hidden_evidence"]) if "hidden_evidence" in prepared.column_names else 0
    drop = script_args.drop_hidden_evidence
    if drop and not script_args.stream and not has_call_labels(source):
        raise DataError(
            f"{script_args.dataset_name}[{script_args.dataset_train_split}]: field meta.{META_KEY}: missing; "
            "drop_hidden_evidence finds the deviating flow through per-call labels (run `make data` again)"
        )
    if rows:
        logger.warning(
            "%d of %d training prompts hide the flow their unsafe label turns on (cut with old flows of a long "
            "session): %s",
            rows,
            len(prepared),
            "dropped (drop_hidden_evidence)" if drop else "trained on; drop_hidden_evidence drops them",
        )
    return {"train": {"rows": rows, "of": len(prepared), "dropped": bool(drop and rows)}}


def make_parser() -> TrlParser:
    return TrlParser((ScriptArguments, GuardianSFTConfig, ModelConfig))


# Recipe keys that were renamed: old -> new. TRL would only call the old key unknown; this names the new one.
RENAMED_KEYS = {"prompt_budget": "log_budget"}


def parse_args(argv: list[str]) -> tuple:
    """The recipe (``--config``) and flags as TRL parses them, after refusing a renamed key by its new name."""
    keys = {a[2:].split("=", 1)[0] for a in argv if a.startswith("--")}
    if "--config" in argv:
        config = yaml.safe_load(Path(argv[argv.index("--config") + 1]).read_text(encoding="utf-8"))
        keys |= set(config) if isinstance(config, dict) else set()
    for old, new in RENAMED_KEYS.items():
        if old in keys:
            raise ValueError(f"`{old}` is now `{new}` (the tokens a rendered log may take): rename it")
    return make_parser().parse_args_and_config(argv)


if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--config" in argv:
        os.environ.setdefault("MCIP_RECIPE", argv[argv.index("--config") + 1])
    try:  # a bad recipe key or value is one clear line, not a traceback
        args = parse_args(argv)
    except (ValueError, OSError) as err:
        print(f"error: recipe: {err}", file=sys.stderr)
        sys.exit(2)
    try:
        main(*args)
    except (DataError, RecordError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
