"""The guardian's trainer: TRL's ``SFTTrainer`` with a cheaper step and checkpoints that survive a kill.

Why a cheaper step: a guardian's answer is about ten tokens after a log of about a thousand. TRL projects the
hidden state of every position through the 49k-word LM head (its fused head scores only the labelled positions on
Triton devices; on CPU it scores them all) and then computes entropy and token accuracy over them. Here, with
``answer_only_logits``, the head and the loss run only where a label is trained: the same loss, without the
vocabulary-sized work on the prompt. The per-step completion metrics are kept behind ``completion_metrics``.

Why markers: ``transformers`` writes a checkpoint file by file into its final folder, so a run killed mid-save
leaves a folder that looks like a checkpoint and fails to resume. Each finished save here ends with an atomic
``mcip_checkpoint.json``; resuming takes the newest checkpoint that has one and sets unfinished ones aside.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import signal
import time
from pathlib import Path

import torch
from transformers import TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from transformers.utils import ModelOutput
from trl import SFTTrainer

from mcip.io import atomic_write
from mcip.prompt import PromptFormat
from train.data import DataError

logger = logging.getLogger("mcip.sft")
MARKER = "mcip_checkpoint.json"
ANSWER_HEAD_RANGE = "mcip:answer_head_loss"
KILL_DURING_SAVE = "MCIP_KILL_DURING_SAVE"  # a step number: the process dies there before the marker (tests)


def add_answer_head(model) -> None:
    """Let ``model(..., labels=labels, answer_only=True)`` run the LM head on labelled positions only.

    The forward stays the model's own otherwise (generation is unchanged). It is patched on the causal LM itself,
    below any PEFT or DDP wrapper, so the call still goes through those wrappers (DDP needs its own forward)."""
    inner = model.forward
    backbone = getattr(model, model.base_model_prefix)

    @functools.wraps(type(model).forward)
    def forward(*args, answer_only: bool = False, labels=None, num_items_in_batch=None, **kwargs):
        if not answer_only:
            if labels is not None:
                kwargs["labels"] = labels
            if num_items_in_batch is not None:
                kwargs["num_items_in_batch"] = num_items_in_batch
            return inner(*args, **kwargs)
        kwargs["use_cache"] = False
        hidden = backbone(*args, **kwargs).last_hidden_state[:, :-1]
        targets = labels[:, 1:].to(hidden.device)
        mask = targets != -100
        with torch.profiler.record_function(ANSWER_HEAD_RANGE):  # named for benchmarks/profiling.py
            logits = model.get_output_embeddings()(hidden[mask]).float()
            loss = torch.nn.functional.cross_entropy(logits, targets[mask], reduction="sum")
        count = mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
        return ModelOutput(loss=loss / count)

    model.forward = forward


class BlockLengthGroupedSampler(LengthGroupedSampler):
    """transformers' length-grouped order, drawn block by block: rows ``[0, block)`` first, in exactly the order
    ``LengthGroupedSampler`` gives a run of ``block`` rows, then each further block in an order seeded by ``seed``
    and its first row.

    Why: the order over N rows otherwise depends on N, so a finished run given more rows (a larger
    ``max_train_samples``) would, on resume, skip a random half of the old and new rows alike instead of the rows
    it trained on. Drawn per block, a run extended by whole blocks resumes on exactly the new rows."""

    def __init__(self, batch_size: int, lengths: list[int], block: int, seed: int):
        super().__init__(batch_size, lengths=list(lengths))
        self.block, self.seed = block, seed

    def __iter__(self):
        order: list[int] = []
        for start in range(0, len(self.lengths), self.block):
            lengths = self.lengths[start : start + self.block]
            # the first block draws from the global generator, as transformers' sampler does (same order as before)
            generator = torch.Generator().manual_seed(self.seed + start) if start else None
            order += [
                start + i for i in get_length_grouped_indices(lengths, self.batch_size, generator=generator)
            ]
        return iter(order)


class GuardianTrainer(SFTTrainer):
    """``SFTTrainer`` with the answer-only head (``args.answer_only_logits``), marked checkpoints and, with
    ``args.data_block``, a data order that stays put when the run is given more rows."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if getattr(self.args, "answer_only_logits", False):
            model = self.model
            add_answer_head(model.get_base_model() if hasattr(model, "get_base_model") else model)

    def _get_train_sampler(self, train_dataset=None):
        sampler = super()._get_train_sampler(train_dataset)
        block = getattr(self.args, "data_block", None)
        if not block or type(sampler) is not LengthGroupedSampler or len(sampler.lengths) <= block:
            return sampler
        if len(sampler.lengths) % block:
            logger.warning(
                "%d training rows are not whole blocks of %d (data_block): the last block's order changes if "
                "the run is later given more rows",
                len(sampler.lengths),
                block,
            )
        return BlockLengthGroupedSampler(sampler.batch_size, sampler.lengths, block, self.args.seed)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not self.args.answer_only_logits or self.args.completion_metrics or not model.training:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        outputs = model(**inputs, answer_only=True, num_items_in_batch=num_items_in_batch)
        loss = outputs.loss
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = (
                loss * self.accelerator.num_processes
            )  # as Trainer.compute_loss: DDP averages the gradients
        return (loss, outputs) if return_outputs else loss


def complete_checkpoints(output_dir: str | Path) -> list[Path]:
    """Checkpoints whose save finished (they hold the marker), oldest first."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if (p / MARKER).is_file()]
    return sorted(found, key=lambda p: int(p.name.rsplit("-", 1)[1]))


def newest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest finished checkpoint, touching nothing: safe while the run trains (a save in progress is left
    alone), so what ships or is saved from a running run reads it."""
    done = complete_checkpoints(output_dir)
    return done[-1] if done else None


def resume_point(output_dir: str | Path) -> Path | None:
    """The newest finished checkpoint; unfinished ones (a kill mid-save) are moved to ``incomplete/`` and named."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    for path in folder.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        if path.is_dir() and not (path / MARKER).is_file():
            aside = folder / "incomplete" / f"{path.name}-{int(time.time())}"
            aside.parent.mkdir(exist_ok=True)
            logger.warning("%s: its save never finished (no %s); set aside in %s", path, MARKER, aside)
            shutil.move(str(path), aside)
    return newest_checkpoint(folder)


def trained_step(folder: str | Path | None) -> int | None:
    """The step a checkpoint or shipped folder has trained to (its ``trainer_state.json``), else None."""
    state = Path(folder) / "trainer_state.json" if folder else None
    return json.loads(state.read_text())["global_step"] if state and state.is_file() else None


def _shipped_step(folder: Path) -> int | None:
    """The step of a shipped guardian folder that can seed a run (adapter and trainer state), else None."""
    return trained_step(folder) if (folder / "adapter_model.safetensors").is_file() else None


def warm_start(
    output_dir: str | Path, shipped: str | Path | list[str | Path], model: str | None = None
) -> Path | None:
    """A checkpoint built from a shipped guardian (``guardians/<name>/``), for a run whose own checkpoints are gone.

    ``shipped`` may name several folders (a list, or one string with commas): the furthest-trained one seeds the
    run. So the vetted guardian users load and the run's newest saved point (``make guardian-save``, which need
    not score better on a few hundred items) can live apart, and a sitting never restarts from the older one.

    The adapter and the trainer state (step, data position, log) come back; the optimizer and RNG states do not
    ship (they would triple the folder), so Adam's moments restart, and ``ScheduleCatchUp`` moves the learning-rate
    schedule back to the shipped step."""
    names = [p for p in (shipped.split(",") if isinstance(shipped, str) else shipped) if str(p).strip()]
    found = [(step, Path(p)) for p in names if (step := _shipped_step(Path(p))) is not None]
    if not found:
        return None
    step, source = max(found, key=lambda f: f[0])  # the first listed wins a tie
    base = json.loads((source / "adapter_config.json").read_text()).get("base_model_name_or_path")
    if model is not None and base and Path(base).resolve() != Path(model).resolve():
        raise DataError(f"--warm_start {source}: its adapter is for {base}, this run trains {model}")
    target = Path(output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{step}"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name in (
        "adapter_model.safetensors",
        "adapter_config.json",
        "trainer_state.json",
        "mcip_prompt.json",
    ):
        if (source / name).is_file():
            shutil.copy2(source / name, tmp / name)
    before = {k: v for k, v in read_marker(source).items() if k in ("train_seconds", "sittings")}
    _mark(tmp, step, warm_start=str(source), **before)
    tmp.rename(target)
    logger.info("warm start from %s at step %d (optimizer state restarts)", source, step)
    return target


def _mark(folder: Path, step: int, **extra) -> None:
    with atomic_write(folder / MARKER) as fh:
        json.dump({"step": step, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **extra}, fh)


def read_marker(checkpoint: str | Path | None) -> dict:
    path = Path(checkpoint) / MARKER if checkpoint else None
    return json.loads(path.read_text()) if path and path.is_file() else {}


class CheckpointCallback(TrainerCallback):
    """After every save: the prompt format (so a checkpoint evaluates as it was trained), then the marker, which
    also carries the training wall time of every sitting so far and the CPU of this one."""

    def __init__(self, prompt_format: PromptFormat, resumed: str | Path | None = None):
        self.prompt_format = prompt_format
        before = read_marker(resumed)
        self.seconds_before = float(before.get("train_seconds", 0.0))
        self.sittings = before.get("sittings", [])
        self.start = time.monotonic()

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.monotonic()

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
            if folder.is_dir():
                from train.precision import cpu_model

                self.prompt_format.save(folder)
                if os.environ.get(KILL_DURING_SAVE) == str(state.global_step):  # tests: a kill mid-save
                    os.kill(os.getpid(), signal.SIGKILL)
                spent = time.monotonic() - self.start
                sitting = {"device": cpu_model() if args.use_cpu else "cuda", "seconds": round(spent, 1)}
                _mark(
                    folder,
                    state.global_step,
                    train_seconds=round(self.seconds_before + spent, 1),
                    sittings=[*self.sittings, sitting],
                )


class SaveEveryMinutes(TrainerCallback):
    """A checkpoint every ``minutes`` of wall time (a killed run loses at most that), on top of ``save_steps``."""

    def __init__(self, minutes: float):
        self.seconds = minutes * 60
        self.last = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        if time.monotonic() - self.last >= self.seconds:
            control.should_save = True
        return control

    def on_save(self, args, state, control, **kwargs):
        self.last = time.monotonic()


class ScheduleCatchUp(TrainerCallback):
    """After a warm start (no ``scheduler.pt``), step the learning-rate schedule to the resumed step."""

    def __init__(self, checkpoint: Path | None):
        self.checkpoint = checkpoint

    def on_train_begin(self, args, state, control, lr_scheduler=None, **kwargs):
        if self.checkpoint and lr_scheduler is not None and not (self.checkpoint / "scheduler.pt").is_file():
            for _ in range(state.global_step):
                lr_scheduler.step()


class Progress(TrainerCallback):
    """One line per log: step, examples seen, this sitting's pace and the time left at that pace."""

    def __init__(self):
        self.start = self.start_step = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.start, self.start_step = time.monotonic(), state.global_step

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or self.start is None or "loss" not in (logs or {}):
            return
        done = state.global_step - self.start_step
        elapsed = time.monotonic() - self.start
        per_step = elapsed / max(done, 1)
        left = (state.max_steps - state.global_step) * per_step
        examples = (
            state.global_step * args.train_batch_size * args.gradient_accumulation_steps * args.world_size
        )
        logger.info(
            "progress: step %d/%d, %d examples, loss %.4f, %.1f s/step this sitting, ETA %s",
            state.global_step,
            state.max_steps,
            examples,
            logs["loss"],
            per_step,
            f"{int(left // 3600)}h{int(left % 3600 // 60):02d}m",
        )
