"""Ship a guardian in the repository: a training checkpoint becomes ``guardians/<name>/``, which loads with nothing
but ``make models`` (the offline base) and from which a later sitting continues training (a warm start).

    python -m train.ship --run runs/guardian --out guardians/smollm2-135m-mcip-cpu \\
        --metrics runs/guardian/eval/test/metrics.json --metrics runs/guardian/eval/test_unseen/metrics.json

The folder is written whole or not at all: the adapter in bf16 (refused over the size cap), its config naming the
offline base by a path relative to the repository, ``mcip_prompt.json``, the operating point fitted on the
validation split where the checkpoint has one (``mcip_calibration.json``, ``train.calibrate``), the trainer state (step and data position
for a warm start), the marker with the wall time and CPU of every sitting, the metrics it was shipped with, the
command and recipe, and a card.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path

from mcip.calibration import CALIBRATION_FILE, Calibration
from mcip.io import atomic_dir
from mcip.prompt import PromptFormat
from train.metrics import UNPARSABLE
from train.trainer import MARKER, newest_checkpoint, read_marker

MAX_ADAPTER_MIB = 16
TARGET_UNSEEN_F1 = 0.75  # the reference guardian's goal on tools never seen in training
BASE_IN_REPO = "models/smollm2-135m-instruct"  # what `make models` writes; a shipped adapter names it
COPIED = ("mcip_prompt.json", CALIBRATION_FILE, "trainer_state.json", MARKER)


class ShipError(ValueError):
    pass


def metrics_names(metrics: list[dict], paths: list[Path]) -> list[str]:
    """The shipped file of each evaluation: ``metrics_<split>.json`` (guardian protocol) or
    ``metrics_<split>_paper.json``; two evaluations of one split in one protocol are refused, naming both files."""
    names: dict[str, Path] = {}
    for m, path in zip(metrics, paths, strict=True):
        paper = "_paper" if m.get("protocol") == "paper" else ""
        name = f"metrics_{m.get('split', path.parent.name)}{paper}.json"
        if name in names:
            raise ShipError(
                f"{names[name]} and {path}: two evaluations of the same split and protocol ({name})"
            )
        names[name] = path
    return list(names)


def _metrics_row(m: dict) -> str:
    rr, sa = m["risk_resistance"], m["safety_awareness"]
    major = m["baselines"]["majority"]["risk_resistance"]["macro_f1"]
    hard = m.get("hard_negatives", {}).get("flagged_rate")
    how = f"{m.get('protocol', 'guardian')}, {m.get('mode', 'fast')}"
    how += " (per call)" if m.get("read") == "per call" and m.get("mode") != "per_call" else ""
    return (
        f"| {m.get('split', '?')} | {how} | {m['n']} | {rr['macro_f1']:.3f} | {rr['accuracy']:.3f} "
        f"| {sa['macro_f1']:.3f} | {major:.3f} | {_rate(hard)} | {_rate(m.get('parse_failure_rate'))} "
        f"| {_rate(_no_class(m))} | {m.get('truncated_share', '-')} |"
    )


def _rate(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _no_class(m: dict) -> float | None:
    """The share of answers that named no class: the confusion matrix's ``unparsable`` column, which holds both
    answers that did not parse and answers that parsed to a bare safe/unsafe (right or wrong for SA, always
    wrong for RR); a card that showed only the parse failures would read 0.000 beside an RR of 0 for them."""
    cm = m.get("confusion_matrix") or {}
    if not cm.get("labels") or cm["labels"][-1] != UNPARSABLE or not m.get("n"):
        return None
    return sum(row[-1] for row in cm["matrix"]) / m["n"]


def card(
    name: str,
    marker: dict,
    state: dict,
    metrics: list[dict],
    recipe: str | None,
    resume_point_for: str | None = None,
    calibration: Calibration | None = None,
    stream: bool = False,
) -> str:
    hours = marker.get("train_seconds", 0) / 3600
    devices = sorted({s["device"] for s in marker.get("sittings", [])}) or ["(not recorded)"]
    lines = [f"# {name}", ""]
    if resume_point_for:
        use = (
            f"use `{resume_point_for}`"
            if Path(resume_point_for).is_dir()
            else f"no vetted guardian of this run (`{resume_point_for}`) is shipped yet"
        )
        lines += [
            f"**Not a guardian to guard with: {use}.** This is the long CPU run's newest",
            "checkpoint, saved in the repository (`make guardian-save`) because `runs/` may not survive a sitting:",
            f"`make guardian` warm-starts from the furthest-trained of `{resume_point_for}` and this folder, so the",
            "run goes on from here rather than from the older vetted guardian. It is not scored when saved.",
            "",
        ]
    intro = (
        [
            "A LoRA adapter on SmolLM2-135M-Instruct that judges an MCP agent's session call by call (the stream",
            "format: the session is one chat, with a verdict, `safe` or `unsafe` and the MCIP choice (A-K), after",
            "each call and answer); a log's verdict is its first unsafe call's. Trained on the CPU with `make "
            "guardian`; it loads offline from the",
        ]
        if stream
        else [
            "A LoRA adapter on SmolLM2-135M-Instruct that reads an MCP agent's interaction log and answers `safe` or",
            "`unsafe` with the MCIP choice (A-K). Trained on the CPU with `make guardian`; it loads offline from the",
        ]
    )
    lines += [
        *intro,
        f"repository (`make models`, then `--model guardians/{name}` or `--guardian guardians/{name}`).",
        "",
        "## Training",
        "",
        f"- steps: {state.get('global_step')} of {state.get('max_steps')}, "
        f"{state.get('global_step', 0) * state.get('train_batch_size', 0)} examples",
        f"- wall time: {hours:.2f} h over {len(marker.get('sittings', []))} sitting(s), on {', '.join(devices)}",
        f"- recipe: `{recipe}`" if recipe else "- recipe: (not recorded)",
        "",
        *_calibration_lines(calibration),
        "## Evaluation (the saved prompt format; guardian protocol: fast first-token scoring"
        + (", every call of each log in one pass" if stream else "")
        + "; paper protocol:",
        "generated answers, parsed)",
        "",
    ]
    if metrics:
        lines += [
            "| split | protocol, mode | n | RR macro-F1 | RR accuracy | SA macro-F1 | majority RR macro-F1 | hard "
            "negatives flagged | unparsable | no class named | prompts cut |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *(_metrics_row(m) for m in metrics),
        ]
        unseen = next(
            (m for m in metrics if m.get("split") == "test_unseen" and m.get("protocol") != "paper"), None
        )
        if unseen is not None:
            f1, major = (
                unseen["risk_resistance"]["macro_f1"],
                unseen["baselines"]["majority"]["risk_resistance"],
            )
            verdict = "reached" if f1 >= TARGET_UNSEEN_F1 else "**not reached yet**"
            lines += ["", f"Target (unseen RR macro-F1 >= {TARGET_UNSEEN_F1}): {verdict} ({f1:.3f}; majority "
                      f"{major['macro_f1']:.3f})."]  # fmt: skip
    else:
        lines.append("Not evaluated when shipped.")
    data = sorted({str(m["data"]) for m in metrics if m.get("data")}) or ["data/mcip-synth"]
    lines += [
        "",
        f"Data: the project's own synthetic splits ({', '.join(f'`{d}`' for d in data)}, built by `make data`);",
        "`test_unseen` holds servers never seen in training. This is a work in progress: see the README's learning",
        "curve for where it stands against the target.",
        "",
    ]
    return "\n".join(lines)


def _calibration_lines(cal: Calibration | None) -> list[str]:
    if cal is None:
        return ["## Operating point", "", "None fitted: verdicts cut the raw P(unsafe) at 0.5.", ""]
    f = cal.fitted_on
    where = f"`{f['data']}` {f['split']}" if "data" in f else f"`{f.get('predictions')}`"
    items = (
        f"{f.get('n')} logs ({f.get('positions')} calls and answers, read per call)"
        if f.get("read")
        else f"{f.get('n')} items"
    )
    letters = ", ".join(f"{k} {v:+.2f}" for k, v in sorted(cal.letter_bias.items())) or "none"
    return [
        "## Operating point",
        "",
        f"`{CALIBRATION_FILE}`, fitted with `python -m train.calibrate` on {items} of {where} (never",
        "a test split): a bias on the unsafe-vs-safe logit, chosen for SA macro-F1, then one per risk letter, chosen",
        "for RR macro-F1 at that cut. The guard and `train.evaluate` (fast, per-call) read every verdict through it;",
        "`--calibration false` reads the raw model. AUPRC and every ranking are unchanged.",
        "",
        f"- unsafe bias {cal.unsafe_bias:+.2f}; letter biases: {letters}",
        f"- on those items: SA macro-F1 {f.get('sa_macro_f1_before')} raw, {f.get('sa_macro_f1_after')} calibrated; "
        f"RR macro-F1 {f.get('rr_macro_f1_before')} raw, {f.get('rr_macro_f1_after')} calibrated (majority "
        f"{f.get('rr_macro_f1_majority')})",
        "",
    ]


def write_adapter(src: Path, dest: Path, base: str) -> float:
    """The adapter of ``src`` in bf16 into ``dest`` (refused over the size cap), its config naming ``base``;
    returns its size in MiB."""
    import torch
    from safetensors.torch import load_file, save_file

    weights = {
        k: v.to(torch.bfloat16).contiguous() for k, v in load_file(src / "adapter_model.safetensors").items()
    }
    save_file(weights, dest / "adapter_model.safetensors", metadata={"format": "pt"})
    size = (dest / "adapter_model.safetensors").stat().st_size / 2**20
    if size > MAX_ADAPTER_MIB:
        raise ShipError(
            f"the adapter is {size:.1f} MiB in bf16, over the {MAX_ADAPTER_MIB} MiB cap: lower lora_r"
        )
    config = json.loads((src / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = base
    (dest / "adapter_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return size


def ship(
    checkpoint: Path,
    out: Path,
    metrics: list[Path],
    recipe: str | None,
    base: str = BASE_IN_REPO,
    clear_cut: Path | None = None,
    resume_point_for: str | None = None,
) -> Path:
    if not (checkpoint / "adapter_model.safetensors").is_file():
        raise ShipError(f"{checkpoint}: no adapter_model.safetensors (only LoRA adapters ship)")
    if not (checkpoint / MARKER).is_file():
        raise ShipError(f"{checkpoint}: no {MARKER}: its save never finished")
    loaded = []
    for path in metrics:
        try:
            loaded.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as err:
            raise ShipError(f"{path}: cannot read metrics ({err})") from None
    names = metrics_names(loaded, metrics)
    fmt = PromptFormat.load(checkpoint)
    with atomic_dir(out) as tmp:
        write_adapter(checkpoint, tmp, base)
        for name in COPIED:
            if (checkpoint / name).is_file():
                shutil.copy2(checkpoint / name, tmp / name)
        for path, name in zip(metrics, names, strict=True):
            shutil.copy2(path, tmp / name)
        (tmp / "COMMAND").write_text(shlex.join(["python", "-m", "train.ship", *sys.argv[1:]]) + "\n")
        if (
            clear_cut
        ):  # what it answers on tests/fixtures/clear_cut.jsonl: tests hold every later change to it
            shutil.copy2(clear_cut, tmp / "clear_cut_predictions.jsonl")
        if recipe and Path(recipe).is_file():
            shutil.copy2(recipe, tmp / "recipe.yaml")
        state = json.loads((checkpoint / "trainer_state.json").read_text())
        (tmp / "README.md").write_text(
            card(
                out.name,
                read_marker(checkpoint),
                state,
                loaded,
                recipe,
                resume_point_for,
                Calibration.load(checkpoint),
                stream=bool(fmt and fmt.stream),
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", help="a training output folder: its newest finished checkpoint ships")
    parser.add_argument("--checkpoint", help="ship this checkpoint instead")
    parser.add_argument("--out", required=True, help="guardians/<name>")
    parser.add_argument("--metrics", action="append", default=[], help="metrics.json of an evaluation")
    parser.add_argument("--recipe", default=None, help="the recipe it was trained with (copied beside it)")
    parser.add_argument("--base", default=BASE_IN_REPO, help="the base the shipped adapter names")
    parser.add_argument(
        "--clear-cut", default=None, help="predictions.jsonl of its evaluation on the clear-cut set"
    )
    parser.add_argument(
        "--resume-point-for",
        metavar="GUARDIAN",
        help="save the run's newest checkpoint as its resume point beside this vetted guardian (the card says so)",
    )
    args = parser.parse_args(argv)
    checkpoint = (
        Path(args.checkpoint) if args.checkpoint else (newest_checkpoint(args.run) if args.run else None)
    )
    if checkpoint is None:
        print(f"error: {args.run or '--run'}: no finished checkpoint to ship", file=sys.stderr)
        return 2
    try:
        out = ship(
            checkpoint,
            Path(args.out),
            [Path(p) for p in args.metrics],
            args.recipe,
            args.base,
            Path(args.clear_cut) if args.clear_cut else None,
            args.resume_point_for,
        )
    except ShipError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    size = (out / "adapter_model.safetensors").stat().st_size / 2**20
    print(f"shipped {checkpoint} -> {out} ({size:.1f} MiB adapter)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
