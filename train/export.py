"""Export a trained guardian as a plain Hugging Face model folder: merged, verified, with its model card.

    python train/export.py --run runs/smollm2-lora --output exports/smollm2-guardian \\
        --metrics runs/smollm2-lora/eval-test/metrics.json --metrics runs/smollm2-lora/eval-unseen/metrics.json

A LoRA run is merged into its base loaded in full precision (fp32 by default; the base of a QLoRA run is
reloaded unquantised in bf16: merging into 4-bit weights would round the adapter away). A full-model run is
re-saved. The export holds safetensors shards, the tokenizer and chat template, a generation config that
stops at the chat template's end-of-turn token (so `generate()` ends where the answer ends), mcip_prompt.json
(how prompts must be rendered for this model), README.md (the model card) and verification.json.

Nothing lands at --output unless verification passes: the saved export is reloaded and its logits on rendered
guardian prompts must match the adapter (or source) model's within a dtype-dependent tolerance, and a short
greedy answer must run through the verdict parser (a parse failure is recorded; fatal with --require-parse).
`python -m train.hub model` refuses to publish an export without a passing verification.json.
Options can also come from a YAML file (`--config export.yaml`, keys named like the options).

GGUF (llama.cpp): convert the export with llama.cpp's own converter; it reads the chat template and the
tokenizer from the folder. A kept adapter (--keep-adapter) converts with convert_lora_to_gguf.py instead.

    git clone https://github.com/ggml-org/llama.cpp && pip install -r llama.cpp/requirements.txt
    python llama.cpp/convert_hf_to_gguf.py EXPORT_DIR --outfile guardian-f16.gguf --outtype f16
    llama-quantize guardian-f16.gguf guardian-q4_k_m.gguf Q4_K_M    # optional, from a llama.cpp build
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcip.examples import EXAMPLES
from mcip.folder import ModelError, ModelFolder
from mcip.io import atomic_dir
from mcip.prompt import PromptFormat
from mcip.prompting import Prompter
from mcip.scoring import TemplateError, answer_tokens, end_of_turn_id
from mcip.verdict import parse_verdict

# Max |logit difference| allowed between the export and the model it came from: ATOL + RTOL * max |logit|
# (rounding error grows with the values rounded). An fp32 merge differs only in summation order (<1e-4 on
# SmolLM2). A bf16/fp16 merge rounds the LoRA delta into W, which the unmerged forward never does: on SmolLM2
# logits move by up to ~4% (bf16) of their range, so in those dtypes this check catches gross faults (a wrong
# base, a garbage merge) and the exact reload check catches whatever saving loses.
ATOL = {"float32": 1e-4, "float16": 1e-2, "bfloat16": 0.1}
RTOL = {"float32": 1e-5, "float16": 2e-2, "bfloat16": 0.1}
COMPARED_POSITIONS = 32  # the prompt's last positions, where the answer's first token is decided
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")


class ExportError(RuntimeError):
    """A run that cannot be exported, or an export that failed verification."""


@dataclass
class ExportConfig:
    run: str = field(
        metadata={"help": "training output_dir: a PEFT LoRA adapter or a full model, with tokenizer"}
    )
    output: str = field(
        metadata={"help": "export folder; written to a temp dir and renamed only if verified"}
    )
    metrics: list[str] = field(
        default_factory=list,
        metadata={"help": "evaluation metrics.json files for the card (repeat the flag)", "action": "extend"},
    )
    dtype: str | None = field(
        default=None,
        metadata={
            "help": "export dtype (default float32; bfloat16 for QLoRA runs)",
            "choices": ["float32", "bfloat16", "float16"],
        },
    )
    keep_adapter: bool = field(
        default=False, metadata={"help": "also copy the LoRA adapter into OUTPUT/adapter/"}
    )
    max_shard_size: str = field(default="2GB", metadata={"help": "safetensors shard size"})
    model_name: str | None = field(
        default=None,
        metadata={"help": "model name or Hub repo id used by the card (default: the export folder name)"},
    )
    base_model: str | None = field(
        default=None,
        metadata={"help": "load the base from here instead of adapter_config's base_model_name_or_path"},
    )
    base_model_id: str | None = field(
        default=None,
        metadata={"help": "Hub id of the base model for the card, when the run used a local folder"},
    )
    dataset_id: str | None = field(
        default=None, metadata={"help": "Hub id of the training dataset for the card"}
    )
    license: str = field(default="apache-2.0", metadata={"help": "card license"})
    tolerance: float | None = field(
        default=None,
        metadata={"help": "max |logit diff| (default: by dtype, plus a share of the largest logit)"},
    )
    require_parse: bool = field(default=False, metadata={"help": "fail if the greedy answer does not parse"})
    max_new_tokens: int = field(default=48, metadata={"help": "length of the verification's greedy answers"})


# -- reading the run --------------------------------------------------------------------------------------------


def read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ExportError(f"{path}: not valid JSON ({err})") from err


def trained_in_4bit(run_meta: dict, adapter_config: dict) -> bool:
    """A QLoRA run: train/sft.py records TRL's ``load_in_4bit`` in mcip_run.json (the adapter config does not)."""
    return bool(run_meta.get("load_in_4bit"))


def _torch_dtype(name: str):
    from mcip.backends import inference_dtype

    return inference_dtype(name)


def load_tokenizer(folder: ModelFolder):
    """The run's tokenizer as trained (evaluation's loader, without its left padding)."""
    from mcip.backends import load_tokenizer as load

    try:
        return load(folder, inference=False)
    except ModelError as err:
        raise ExportError(str(err)) from None


def load_source(path: str, dtype: str, adapter: Path | None):
    """The model the export must reproduce: the base at ``path`` plus the unmerged adapter, or a full model."""
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        if getattr(AutoConfig.from_pretrained(path), "quantization_config", None):
            raise ExportError(
                f"{path} is stored quantised; export needs full-precision weights: pass --base_model with the "
                "unquantised checkpoint"
            )
        model = AutoModelForCausalLM.from_pretrained(path, dtype=_torch_dtype(dtype))
    except OSError as err:
        raise ExportError(f"cannot load {path}: {err}") from err
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    return model.eval()


def merge(model):
    """Fold the LoRA weights into the base (a no-op for a full model)."""
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


# -- chat template and generation config ------------------------------------------------------------------------


def generation_config(model, tokenizer, eot: int):
    """Greedy decoding that stops at the end-of-turn token (plus the tokenizer's and model's own eos)."""
    from transformers import GenerationConfig

    old = model.generation_config.eos_token_id
    eos = [eot, tokenizer.eos_token_id, *(old if isinstance(old, list) else [old])]
    eos = list(dict.fromkeys(i for i in eos if i is not None))
    return GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos if len(eos) > 1 else eos[0],
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eot,
        do_sample=False,
        max_new_tokens=128,
    )


# -- verification -------------------------------------------------------------------------------------------------


def guardian_inputs(tokenizer, fmt: PromptFormat, context: int | None) -> dict[str, Any]:
    """The built-in example trajectories rendered as evaluation renders them for this model (mcip/prompting.py)."""
    prompter = Prompter.for_model(tokenizer, fmt, context)
    inputs = {}
    for name, make in EXAMPLES.items():
        traj = make()
        messages = prompter.messages(traj)
        ids = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        inputs[name] = {"ids": ids, "label": traj.label}
    return inputs


def tail_logits(model, inputs: dict) -> dict:
    import torch

    with torch.no_grad():
        return {
            name: model(**x["ids"]).logits[0, -COMPARED_POSITIONS:].float().clone()
            for name, x in inputs.items()
        }


def verdict_token_ids(tokenizer) -> dict[str, int]:
    """The verdict tokens evaluation scores (``mcip.scoring.answer_tokens``: located in real answers after a
    rendered prompt, not from bare words, which a BPE tokenizer splits differently)."""
    tokens = answer_tokens(tokenizer)
    return {"safe": tokens.safe_id, "unsafe": tokens.unsafe_id}


def tolerance_for(dtype: str, reference: dict, override: float | None = None) -> float:
    if override is not None:
        return override
    return ATOL[dtype] + RTOL[dtype] * max(r.abs().max().item() for r in reference.values())


def max_diff(a: dict, b: dict) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in a)


def greedy(model, tokenizer, name: str, x: dict, logits, vt: dict, max_new_tokens: int) -> dict:
    """One greedy answer through the verdict parser, with the first-token P(unsafe) beside it."""
    import torch

    with torch.no_grad():
        out = model.generate(**x["ids"], max_new_tokens=max_new_tokens, do_sample=False)
    text = tokenizer.decode(out[0, x["ids"]["input_ids"].shape[1] :], skip_special_tokens=True)
    verdict = parse_verdict(text)
    pair = torch.softmax(logits[-1, [vt["safe"], vt["unsafe"]]], dim=-1)
    return {
        "example": name,
        "expected": x["label"],
        "greedy_text": text,
        "parse_ok": verdict.ok,
        "parse_error": verdict.error,
        "label": verdict.label,
        "unsafe": verdict.unsafe,
        "p_unsafe_first_token": round(pair[1].item(), 6),
    }


def verify(folder: Path, tokenizer, inputs: dict, reference: dict, merged: dict, dtype: str, cfg) -> dict:
    """Reload the saved export and check it against the source model and the in-memory merged model.

    The source comparison catches a wrong merge within the dtype's tolerance; the reload must reproduce the
    merged model exactly (same weights, same dtype), which catches shards, tied weights or config lost in saving.
    """
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=_torch_dtype(dtype)).eval()
    logits = tail_logits(model, inputs)
    diff, reload_diff = max_diff(logits, reference), max_diff(logits, merged)
    tolerance = tolerance_for(dtype, reference, cfg.tolerance)
    reload_tolerance = tolerance_for("float32", reference)
    vt = verdict_token_ids(tokenizer)
    logits_ok = diff <= tolerance and reload_diff <= reload_tolerance
    examples = []
    if logits_ok:  # a failed export is deleted anyway: only a passing one is worth the generation time
        examples = [
            greedy(model, tokenizer, k, x, logits[k], vt, cfg.max_new_tokens) for k, x in inputs.items()
        ]
    del model
    parse_ok = bool(examples) and all(e["parse_ok"] for e in examples)
    return {
        "export_ok": logits_ok and (parse_ok or not cfg.require_parse),
        "logits_ok": logits_ok,
        "max_abs_logit_diff": diff,
        "tolerance": tolerance,
        "reload_max_abs_logit_diff": reload_diff,
        "reload_tolerance": reload_tolerance,
        "compared_positions": COMPARED_POSITIONS,
        "parse_ok": parse_ok,
        "require_parse": cfg.require_parse,
        "examples": examples,
        "verdict_token_ids": vt,
    }


# -- export -------------------------------------------------------------------------------------------------------


def export(cfg: ExportConfig) -> dict:
    """Merge, save, verify and write the card; return the verification report. Raises ExportError."""
    import torch
    import transformers

    from train.card import load_metrics, write_model_card

    run, output = Path(cfg.run), Path(cfg.output)
    if not run.is_dir():
        raise ExportError(f"{run}: no such run folder")
    adapter_config = read_json(run / "adapter_config.json")
    if adapter_config is None and not (run / "config.json").is_file():
        raise ExportError(f"{run}: neither a LoRA adapter (adapter_config.json) nor a model (config.json)")
    run_meta = read_json(run / "mcip_run.json") or {}
    try:
        metrics = load_metrics(cfg.metrics)
    except ValueError as err:
        raise ExportError(str(err)) from err
    if adapter_config is not None and not (cfg.base_model or adapter_config.get("base_model_name_or_path")):
        raise ExportError(f"{run}/adapter_config.json has no base_model_name_or_path; pass --base_model")
    try:
        folder = ModelFolder.read(str(run), base=cfg.base_model)
    except ModelError as err:
        raise ExportError(str(err)) from None
    fmt, base = folder.fmt, folder.base
    qlora = adapter_config is not None and trained_in_4bit(run_meta, adapter_config)
    dtype = cfg.dtype or ("bfloat16" if qlora else "float32")

    tokenizer = load_tokenizer(folder)
    try:
        eot = end_of_turn_id(tokenizer)
    except TemplateError as err:
        raise ExportError(str(err)) from err
    inputs = guardian_inputs(tokenizer, fmt, folder.context)
    what = f"base {base} + LoRA adapter" if base else f"model {run}"
    _log(f"loading {what} in {dtype}" + (" (QLoRA run: the base unquantised)" if qlora else ""))
    model = load_source(base or str(run), dtype, run if adapter_config else None)
    reference = tail_logits(model, inputs)
    model = merge(model)
    merged = tail_logits(model, inputs)
    model.generation_config = generation_config(model, tokenizer, eot)

    with atomic_dir(output) as tmp:
        _log(f"saving to a temp dir beside {output}")
        model.save_pretrained(tmp, max_shard_size=cfg.max_shard_size)
        tokenizer.save_pretrained(tmp)
        del model
        gc.collect()
        fmt.save(tmp)
        if folder.calibration is not None:  # the merged model keeps the adapter's operating point
            folder.calibration.save(tmp)
        if cfg.keep_adapter and adapter_config is not None:
            (tmp / "adapter").mkdir()
            for name in ADAPTER_FILES:
                if (run / name).is_file():
                    shutil.copy2(run / name, tmp / "adapter" / name)
        _log("verifying the reloaded export")
        report = verify(tmp, tokenizer, inputs, reference, merged, dtype, cfg)
        report.update(
            source={
                "run": run.name,
                "kind": "lora" if adapter_config else "full",
                "base_model": Path(base).name
                if base and Path(base).is_absolute()
                else base,  # no local paths
                "qlora": qlora,
            },
            dtype=dtype,
            prompt=fmt.to_dict(),
            end_of_turn={"id": eot, "token": tokenizer.convert_ids_to_tokens(eot)},
            versions={"torch": torch.__version__, "transformers": transformers.__version__},
        )
        (tmp / "verification.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        if not report["export_ok"]:
            raise ExportError(_failure(report))
        try:
            write_model_card(
                tmp,
                model_name=cfg.model_name or output.name,
                run_meta=run_meta,
                metrics=metrics,
                base_model_id=cfg.base_model_id,
                dataset_id=cfg.dataset_id,
                license=cfg.license,
            )
        except ValueError as err:
            raise ExportError(f"model card: {err}") from err
    return report


def _log(message: str) -> None:
    print(f"[export] {message}", flush=True)


def _failure(report: dict) -> str:
    if report["reload_max_abs_logit_diff"] > report["reload_tolerance"]:
        return (
            f"verification failed: the saved export does not reproduce the merged model (logits differ by "
            f"{report['reload_max_abs_logit_diff']:.3g}, tolerance {report['reload_tolerance']:.3g})"
        )
    if not report["logits_ok"]:
        return (
            f"verification failed: export logits differ from the source model by {report['max_abs_logit_diff']:.3g} "
            f"(tolerance {report['tolerance']:.3g} for {report['dtype']})"
        )
    bad = next(e for e in report["examples"] if not e["parse_ok"])
    return f"verification failed: greedy answer for {bad['example']} does not parse ({bad['parse_error']}): {bad['greedy_text']!r}"


def main(argv: list[str] | None = None) -> int:
    from trl import TrlParser

    parser = TrlParser(
        ExportConfig, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    (cfg,) = parser.parse_args_and_config(argv)
    try:
        report = export(cfg)
    except ExportError as err:
        print(f"error: {err}; nothing written to {cfg.output}", file=sys.stderr)
        return 1
    parsed = sum(e["parse_ok"] for e in report["examples"])
    print(
        f"exported {cfg.run} -> {cfg.output} ({report['dtype']}): max |logit diff| "
        f"{report['max_abs_logit_diff']:.3g} <= {report['tolerance']:.3g}; "
        f"{parsed}/{len(report['examples'])} greedy answers parse"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
