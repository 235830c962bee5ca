"""Evaluate a guardian model on MCIP data: the paper's metrics, honest baselines, plots and a report.

    python -m train.evaluate --model runs/smollm2-lora --data data/mcip --split test --output runs/eval
    python -m train.evaluate --config eval.yaml --limit 50
    python -m train.evaluate --backend openai --api-base http://host:8000/v1 --api-model NAME \\
        --api-key-env MY_KEY --protocol paper --data bench.jsonl --output runs/eval-api

Modes (guardian protocol, transformers backend): ``fast`` reads P(unsafe) and the choice letter from one
teacher-forced forward pass per example (``mcip/scoring.py``); ``generate`` decodes the answer greedily and
parses it with ``mcip.verdict.parse_verdict``; ``both`` runs the two on the same prompts. The paper protocol
and the vllm/openai backends generate only. ``per_call`` (transformers) judges every call and answer of each log in
one incremental pass, as the guard would have (``mcip.guardian.LoadedGuardian.judge_positions``, the guardian's
own earlier verdicts fed back), scores the per-call view against ``meta.call_labels`` (``metrics.json``'s
``per_call``) and derives the paper's record-level verdict from it: the first unsafe position's class, else safe.

Outputs in ``--output``: ``metrics.json`` (the mode run; ``generate`` when ``--mode both``, whose fast results
go to ``metrics_fast.json``), ``predictions.jsonl`` (``predictions_fast.jsonl``), ``confusion_matrix*.png``,
``per_class_f1*.png`` and ``report.md``. The metrics files are written last, so a failed run never replaces
a finished ``metrics.json``.

``--seed`` picks the ``--limit`` subset (a seeded sample, kept in data order, so a small run still sees every
class), the wrong answers shown in the report, and vLLM's seed; decoding is greedy. Bad input exits with
code 2 and a one-line error naming what and where.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args, get_type_hints

import yaml
from trl import TrlParser

from mcip.backends import ScoringBackend
from mcip.calls import META_KEY, positions
from mcip.folder import ModelError
from mcip.guardian import LoadedGuardian, load_guardian, log_verdict
from mcip.prompting import ContextError, prompt_stats
from mcip.record import RecordError, Trajectory, from_row, load_jsonl, not_gold
from mcip.scoring import ScoringError, TemplateError
from mcip.stream import STREAM_WINDOW
from mcip.taxonomy import SAFE
from train.metrics import Prediction, baselines, compute_metrics, per_call_metrics
from train.report import ModeResult, write_outputs


class EvalError(Exception):
    """Bad arguments or data; the message names what and where (exit code 2)."""


@dataclass
class EvalConfig:
    data: str = field(
        metadata={"help": "a save_to_disk DatasetDict folder, or a .jsonl file of trajectory records"}
    )
    output: str = field(
        metadata={"help": "output folder for metrics.json, predictions.jsonl, report.md, plots"}
    )
    model: str | None = field(default=None, metadata={"help": "model folder, LoRA adapter folder or Hub id"})
    split: str = field(default="test", metadata={"help": "split of a DatasetDict folder"})
    protocol: Literal["guardian", "paper"] = field(
        default="guardian", metadata={"help": "guardian answer format, or the paper's multiple choice"}
    )
    backend: Literal["transformers", "vllm", "openai"] = "transformers"
    mode: Literal["fast", "generate", "both", "per_call"] = field(
        default="generate",
        metadata={
            "help": "fast: one forward pass per example (guardian, transformers); per_call: a verdict at every "
            "call and answer, one incremental pass per session, the record's verdict its first unsafe call's"
        },
    )
    limit: int | None = field(
        default=None, metadata={"help": "evaluate a seeded sample of this many records"}
    )
    batch_size: int = 8
    max_new_tokens: int | None = field(
        default=None,
        metadata={"help": "the answer's room and generation length (default: 64 guardian, 384 paper)"},
    )
    api_base: str | None = field(
        default=None, metadata={"help": "OpenAI-compatible base URL, e.g. http://h:8000/v1"}
    )
    api_model: str | None = field(
        default=None, metadata={"help": "model name the endpoint serves (default --model)"}
    )
    api_key_env: str | None = field(
        default=None, metadata={"help": "environment variable holding the API key"}
    )
    concurrency: int = field(default=4, metadata={"help": "parallel requests to the endpoint"})
    api_retries: int = 5
    api_backoff: float = field(
        default=1.0, metadata={"help": "first retry delay in seconds; doubles each retry"}
    )
    api_timeout: float = 120.0
    seed: int = 42
    context: int | None = field(
        default=None,
        metadata={"help": "positions the model attends to (default: its config's max_position_embeddings)"},
    )
    window: int = field(
        default=STREAM_WINDOW,
        metadata={
            "help": "per_call mode with a stream guardian: tokens one chat may take before the session re-cuts "
            "into a new one (the guard policy's window_tokens; 0: the context)"
        },
    )
    log_budget: int | None = field(
        default=None,
        metadata={
            "help": "cap the log's tokens below what the model's format and context allow (faster on CPU)"
        },
    )
    calibration: bool = field(
        default=True,
        metadata={
            "help": "fast and per_call modes: read verdicts through the folder's mcip_calibration.json, as the "
            "guard does (false: the raw model)"
        },
    )


@dataclass(frozen=True)
class Example:
    id: str
    label: str
    trajectory: Trajectory


def parse_config(argv: list[str] | None = None) -> EvalConfig:
    try:
        (cfg,) = TrlParser(EvalConfig).parse_args_and_config(argv)
    except (ValueError, yaml.YAMLError) as err:  # unknown keys in the config file or on the command line
        raise EvalError(f"bad arguments: {err}") from None
    hints = get_type_hints(EvalConfig)
    for name in ("protocol", "backend", "mode"):  # a config file's values skip argparse's choices check
        if getattr(cfg, name) not in get_args(hints[name]):
            raise EvalError(
                f"{name}: {getattr(cfg, name)!r} is not one of {', '.join(get_args(hints[name]))}"
            )
    if cfg.mode != "generate" and (cfg.protocol != "guardian" or cfg.backend != "transformers"):
        raise EvalError(f"--mode {cfg.mode} needs --protocol guardian and --backend transformers")
    if cfg.backend == "openai" and not (cfg.api_base and (cfg.api_model or cfg.model)):
        raise EvalError("--backend openai needs --api-base and --api-model")
    if cfg.backend != "openai" and not cfg.model:
        raise EvalError(f"--backend {cfg.backend} needs --model")
    if min(cfg.batch_size, cfg.concurrency, cfg.limit or 1, cfg.max_new_tokens or 1, cfg.log_budget or 1) < 1:
        raise EvalError(
            "--batch-size, --concurrency, --limit, --max-new-tokens and --log-budget must be positive"
        )
    return cfg


def _from_dataset(data: str, split: str) -> list[Example]:
    from datasets import DatasetDict, load_from_disk

    try:
        ds = load_from_disk(data)
    except (FileNotFoundError, ValueError) as err:
        raise EvalError(f"{data}: not a dataset saved with save_to_disk ({err})") from None
    if isinstance(ds, DatasetDict):
        if split not in ds:
            raise EvalError(f"{data}: no split {split!r} (splits: {', '.join(ds)})")
        ds = ds[split]
    missing = {"id", "label", "trajectory"} - set(ds.column_names)
    if missing:
        raise EvalError(f"{data}[{split}]: missing column(s) {', '.join(sorted(missing))}")
    out = []
    for i, row in enumerate(ds.select_columns(["id", "label", "trajectory"])):
        traj = from_row(row, f"{data}[{split}] row {i} (id {row['id']})")
        out.append(Example(str(row["id"]), row["label"], traj))
    return out


def is_hard_negative(traj: Trajectory) -> bool:
    """A safe log made from an attack's surface (data_gen's rule: a ``true`` label from a non-benign kind)."""
    kind = (traj.meta or {}).get("kind")
    return traj.label == "true" and kind is not None and kind not in ("benign", "gold")


def load_examples(data: str, split: str, limit: int | None, seed: int) -> list[Example]:
    """Labelled trajectories from a dataset folder or a JSONL file; a seeded sample of ``limit`` of them."""
    path = Path(data)
    if path.is_dir():
        examples = _from_dataset(data, split)
    elif path.is_file():
        examples = []
        for i, traj in enumerate(load_jsonl(path), 1):
            if traj.label is None:
                raise EvalError(
                    f"{data}: record {i} (id {traj.id}): field label: missing; evaluation needs labels"
                )
            if why := not_gold(traj):
                raise EvalError(f"{data}: record {i} (id {traj.id}): field label: not gold: {why}")
            examples.append(Example(traj.id or f"record-{i}", traj.label, traj))
    else:
        raise EvalError(f"{data}: no such dataset folder or JSONL file")
    if not examples:
        raise EvalError(f"{data}: no records")
    if limit and limit < len(examples):
        examples = [examples[i] for i in sorted(random.Random(seed).sample(range(len(examples)), limit))]
    return examples


def load(cfg: EvalConfig) -> LoadedGuardian:
    """The guardian under evaluation (``mcip.guardian``: the same loader, prompter and answer room as the guard)."""
    return load_guardian(
        cfg.model,
        backend=cfg.backend,
        api_base=cfg.api_base,
        api_model=cfg.api_model,
        api_key_env=cfg.api_key_env,
        batch_size=cfg.batch_size,
        concurrency=cfg.concurrency,
        retries=cfg.api_retries,
        backoff=cfg.api_backoff,
        timeout=cfg.api_timeout,
        seed=cfg.seed,
        context=cfg.context,
        log_budget=cfg.log_budget,
        paper=cfg.protocol == "paper",
        answer_room=cfg.max_new_tokens,
        window=cfg.window or None,
        calibrate=cfg.calibration,
    )


def evaluate(cfg: EvalConfig) -> list[ModeResult]:
    examples = load_examples(cfg.data, cfg.split, cfg.limit, cfg.seed)
    guardian = load(cfg)
    backend, prompter, context = guardian.backend, guardian.prompter, guardian.context
    guardian_protocol = cfg.protocol == "guardian"
    # a stream-format guardian learnt to judge each call where it happens, not a whole log at once: its fast
    # reading of a log is the per-call pass (every position, one incremental pass), the record's verdict its first
    # unsafe position's, as the guard reads it
    stream_fast = cfg.mode in ("fast", "both") and guardian_protocol and guardian.fmt.stream
    per_call = cfg.mode == "per_call" or stream_fast
    if per_call:  # what is read at each record's last position (the longest chat of the pass)
        prompts = [guardian.session_prompt(ex.trajectory, _all_but_last(ex.trajectory)) for ex in examples]
    else:
        prompts = [guardian.prompt(ex.trajectory) for ex in examples]
    lengths = [guardian.prompt_tokens(p) for p in prompts]
    trajectories = [ex.trajectory for ex in examples]
    if guardian.tokenizer is not None and context:
        over = [ex.id for ex, n in zip(examples, lengths) if n + guardian.answer_room > context]
        if over:  # the renderer's bound makes this unreachable; never score past the model's positions
            raise EvalError(
                f"{len(over)} prompt(s) exceed the {context}-token context (ids {', '.join(over[:5])})"
            )
    if isinstance(backend, ScoringBackend):
        backend.warm_up(prompts[0])
    runs, speed, per_call_view, reads_calls = [], {}, None, {}
    for mode in ("fast", "generate") if cfg.mode == "both" else (cfg.mode,):
        start = time.perf_counter()
        reads_calls[mode] = mode == "per_call" or (mode == "fast" and stream_fast)
        if reads_calls[mode]:
            preds, per_call_view = _per_call(guardian, examples)
        elif mode == "fast":
            preds = [
                Prediction.from_fast(ex.id, ex.label, s.p_unsafe, s.label, s.probs)
                for ex, s in zip(examples, guardian.score(prompts))
            ]
        else:
            gens = backend.generate(prompts, guardian.answer_room, want_p=guardian_protocol)
            preds = [
                Prediction.from_answer(ex.id, ex.label, g.text, g.p_unsafe) for ex, g in zip(examples, gens)
            ]
        seconds = time.perf_counter() - start
        speed[mode] = {"examples_per_second": round(len(preds) / seconds, 4), "seconds": round(seconds, 3)}
        runs.append((mode, preds))
    meta = {
        "model": cfg.model or cfg.api_model,
        "data": cfg.data,
        "split": cfg.split if Path(cfg.data).is_dir() else None,
        "protocol": cfg.protocol,
        "backend": backend.name,
        "prompt_style": prompter.fmt.style if guardian_protocol else "paper",
        "context": context,
        "log_budget": prompter.log_budget,
        # the operating point the verdicts were read through (mcip.calibration), None for the raw model
        "calibration": guardian.calibration and guardian.calibration.to_dict(),
        # the guardian format numbers its flows as the records do: the share of unsafe items it hides evidence of
        **prompt_stats(prompts, lengths, None if per_call or not guardian_protocol else trajectories),
    }
    results = []
    for mode, preds in runs:
        metrics = {**meta, "mode": mode, **compute_metrics(preds)}
        metrics["baselines"] = baselines(preds, with_scores="auprc" in metrics["unsafe"])
        hard = [p for p, ex in zip(preds, examples) if is_hard_negative(ex.trajectory)]
        if hard:  # safe logs that share an attack's surface: what a guard must not block
            flagged = sum(bool(p.unsafe) for p in hard) / len(hard)
            metrics["hard_negatives"] = {"n": len(hard), "flagged_rate": round(flagged, 4)}
        metrics["speed"] = speed
        if reads_calls[mode]:
            metrics["per_call"] = per_call_view
            metrics["read"] = "per call"  # said in the report: a stream guardian's fast mode reads every call
        results.append(ModeResult(mode, preds, metrics))
    return results


def _all_but_last(traj: Trajectory) -> list[str]:
    return [SAFE] * (len(positions(traj)) - 1)


def _per_call(guardian: LoadedGuardian, examples: list[Example]) -> tuple[list[Prediction], dict]:
    """Every position of every log judged in one incremental pass each; record predictions derived from them."""
    from tqdm.auto import tqdm

    if guardian.cache is None:
        raise EvalError("--mode per_call needs a local model (--backend transformers)")
    preds, sessions, unlabelled = [], [], 0
    for ex in tqdm(examples, desc="per call", unit="log"):
        if not positions(ex.trajectory):
            raise EvalError(f"record {ex.id}: no call and no answer to judge")
        scores = guardian.judge_positions(ex.trajectory)
        log = log_verdict(scores)
        calls = [{"p_unsafe": s.p_unsafe, "label": s.label, "probs": s.probs} for s in scores]
        preds.append(Prediction(ex.id, ex.label, log.label, log.label != SAFE, log.p_unsafe, calls=calls))
        gold = (ex.trajectory.meta or {}).get(META_KEY)
        if gold is None:
            unlabelled += 1
        else:
            sessions.append(([g["label"] for g in gold], [s.label for s in scores]))
    view = per_call_metrics(sessions)
    view["records_without_call_labels"] = unlabelled
    return preds, view


def main(argv: list[str] | None = None) -> int:
    try:
        cfg = parse_config(argv)
        results = evaluate(cfg)
        primary = "generate" if cfg.mode == "both" else cfg.mode
        write_outputs(cfg.output, results, primary, cfg.seed)
    except (EvalError, ModelError, RecordError, ScoringError, TemplateError, ContextError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for r in results:
        m = r.metrics
        rr = m.get("risk_resistance", {})
        print(
            f"{r.mode}: n={m['n']} RR acc {rr.get('accuracy', '-')} macro-F1 {rr.get('macro_f1', '-')} | "
            f"SA acc {m['safety_awareness']['accuracy']} macro-F1 {m['safety_awareness']['macro_f1']} | "
            f"parse failures {m['parse_failure_rate']} | {m['speed'][r.mode]['examples_per_second']} ex/s"
        )
    print(f"wrote {Path(cfg.output) / 'metrics.json'} and report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
