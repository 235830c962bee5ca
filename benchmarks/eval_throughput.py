"""Evaluation throughput: fast scoring (one forward pass per log) and greedy generation, in examples/s, at
batch sizes 1..256, for the 135M guardian and an 8B shape; recommends the evaluator's default
``--batch-size``.

Uses the evaluator's own pieces: ``mcip.guardian.load_guardian`` (its transformers backend: left-padded
batches, bf16 on GPU, longest first), ``train.evaluate.load_examples`` and ``mcip.prompting.Prompter`` (the
``--style``/``--budget`` format, sized by the one budget rule). The 8B shape has random weights (``benchmarks/gpu_scale.py`` builds it; the Hub
is out of reach), so its generation never meets an end-of-turn token and always runs ``--max-new-tokens`` (the
evaluator's default, 64): its generation figure is the worst case. SmolLM2 uses
``models/smollm2-135m-instruct`` when it holds weights, else random weights of its shape (same caveat). A
batch size that runs out of memory is recorded and larger ones are skipped for that model and mode.

    python -m benchmarks.eval_throughput --data data/gpu-scale            # GPU: results/eval_throughput.json
    python -m benchmarks.eval_throughput --device cpu --scale tiny --batch-sizes 1 2 4 --batch-sizes-8b 1 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from mcip.io import write_json
from mcip.prompting import ANSWER_ROOM

REPO = Path(__file__).resolve().parents[1]

DEFAULT_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256]
DEFAULT_SIZES_8B = [1, 4, 16, 64, 128]
KNEE = 0.9  # the recommended batch size reaches this share of the best throughput


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def _peak_reset(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_gib(device: str) -> float | None:
    if device != "cuda":
        return None
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**30, 2)


def sweep(
    backend,
    prompts,
    sizes,
    device: str,
    max_new_tokens: int,
    min_items: int,
    budget_end: float,
    out: dict,
    save,
) -> dict:
    """examples/s per batch size for ``fast`` and ``generate`` into ``out`` (``save()`` after each); stops a
    mode at its first out-of-memory."""
    import torch

    out.update({"fast": {}, "generate": {}})
    stopped = {"fast": None, "generate": None}
    for bs in sizes:
        for mode in ("fast", "generate"):
            if stopped[mode]:
                out[mode][str(bs)] = {"status": f"skipped: {stopped[mode]}"}
                continue
            if time.perf_counter() > budget_end:
                stopped[mode] = "time budget"
                out[mode][str(bs)] = {"status": "skipped: time budget"}
                continue
            n = min(len(prompts), max(bs * (2 if mode == "fast" else 1), min_items if mode == "fast" else 4))
            batch = prompts[:n]
            backend.batch_size = bs
            _peak_reset(device)
            try:
                if mode == "fast":
                    backend.fast(batch[:bs])  # warm this batch shape (allocator, kernel choice), untimed
                    _sync(device)
                    start = time.perf_counter()
                    backend.fast(batch)
                else:
                    start = time.perf_counter()
                    gens = backend.generate(batch, max_new_tokens, want_p=True)
                _sync(device)
                seconds = time.perf_counter() - start
            except torch.OutOfMemoryError:
                stopped[mode] = f"out of memory at batch size {bs}"
                out[mode][str(bs)] = {"status": "oom"}
                continue
            entry = {
                "status": "ok",
                "items": n,
                "seconds": round(seconds, 4),
                "examples_per_s": round(n / seconds, 3),
                "peak_mem_gib": _peak_gib(device),
            }
            if mode == "generate":
                new = [len(backend.tokenizer(g.text, add_special_tokens=False).input_ids) for g in gens]
                entry["mean_new_tokens"] = round(sum(new) / len(new), 1)
            out[mode][str(bs)] = entry
            save()
    return out


def knee(results: dict) -> int | None:
    """The smallest batch size within ``KNEE`` of the best examples/s."""
    ok = {int(bs): r["examples_per_s"] for bs, r in results.items() if r.get("status") == "ok"}
    if not ok:
        return None
    best = max(ok.values())
    return min(bs for bs, rate in ok.items() if rate >= KNEE * best)


def main(argv: list[str] | None = None) -> int:
    from benchmarks import gpu_scale

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=["cuda", "cpu"], default=None)
    parser.add_argument("--scale", choices=["full", "tiny"], default="full")
    parser.add_argument("--data", default=None, help="dataset folder (default: built like gpu_scale.py)")
    parser.add_argument("--split", default="test_unseen")
    parser.add_argument("--items", type=int, default=512, help="prompts loaded (largest batch x 2 at most)")
    parser.add_argument("--min-items", type=int, default=16, help="fast mode: at least this many per size")
    parser.add_argument("--style", default="full")
    parser.add_argument("--budget", type=int, default=1536, help="log token budget (the 135M GPU recipe's)")
    parser.add_argument(
        "--max-new-tokens", type=int, default=ANSWER_ROOM, help="the evaluator's guardian default"
    )
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=DEFAULT_SIZES, help="135M")
    parser.add_argument("--batch-sizes-8b", type=int, nargs="*", default=DEFAULT_SIZES_8B)
    parser.add_argument("--shape-8b", default="llama-3.1-8b", help="0 to skip: a benchmarks/shapes name")
    parser.add_argument("--budget-s", type=float, default=None, help="per model")
    parser.add_argument("--work", default="runs/gpu-scale")
    parser.add_argument("--tokenizer-base", default=str(gpu_scale.SMOLLM2_DIR))
    parser.add_argument("--out", default="benchmarks/results/eval_throughput.json")
    args = parser.parse_args(argv)

    import torch

    from mcip.guardian import load_guardian
    from mcip.prompt import PromptFormat
    from mcip.prompting import Prompter
    from train.evaluate import load_examples

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the backend puts models on CUDA whenever it sees one
        if torch.cuda.is_available():
            raise SystemExit(
                "error: --device cpu on a GPU machine: set CUDA_VISIBLE_DEVICES= before starting"
            )
    work = (REPO / args.work).resolve()
    tokenizer_base = Path(args.tokenizer_base)
    data = args.data or str(gpu_scale.build_data(work / "data", 1000))
    examples = load_examples(data, args.split, args.items, seed=0)
    report = {
        "command": " ".join([Path(sys.executable).name, "-m", "benchmarks.eval_throughput", *sys.argv[1:]]),
        "environment": gpu_scale.environment(device),
        "data": data,
        "split": args.split,
        "prompt": {"style": args.style, "log_budget": args.budget},
        "max_new_tokens": args.max_new_tokens,
        "knee": f"recommended = smallest batch size within {KNEE:.0%} of the best examples/s",
        "models": {},
    }
    models = [("smollm2-135m", args.batch_sizes)]
    if args.shape_8b != "0":
        models.append((args.shape_8b, args.batch_sizes_8b))
    for shape, sizes in models:
        started = time.perf_counter()
        if shape == "smollm2-135m":
            path, source = gpu_scale.smollm2_source(args.scale, work, tokenizer_base, device)
        else:
            path = gpu_scale.ensure_model(shape, args.scale, work, tokenizer_base, device)
            source = f"random weights of {gpu_scale.load_shape(shape)['hf_id']}'s shape ({args.scale})"
        guardian = load_guardian(str(path), batch_size=1, answer_room=args.max_new_tokens)
        backend = guardian.backend
        fmt = PromptFormat(args.style, args.budget)
        prompter = Prompter.for_model(backend.tokenizer, fmt, guardian.context, guardian.answer_room)
        prompts = [prompter.messages(ex.trajectory) for ex in examples]
        lengths = [guardian.prompt_tokens(m) for m in prompts[:64]]
        backend.warm_up(prompts[0])
        end = started + args.budget_s if args.budget_s else float("inf")
        entry = report["models"][shape] = {
            "model": str(path),
            "source": source,
            "prompt_tokens_mean": round(sum(lengths) / max(len(lengths), 1)),
            "results": {},
        }
        save = lambda: write_json(REPO / args.out, report, default=str)  # noqa: E731
        results = sweep(
            backend, prompts, sizes, device, args.max_new_tokens, args.min_items, end, entry["results"], save
        )
        entry["recommended_batch_size"] = {mode: knee(results[mode]) for mode in results}
        entry["wall_s"] = round(time.perf_counter() - started, 1)
        del backend, guardian
        if device == "cuda":
            torch.cuda.empty_cache()
        write_json(REPO / args.out, report, default=str)
    picks = [r["recommended_batch_size"].get("fast") for r in report["models"].values()]
    picks = [p for p in picks if p]
    report["evaluator_default_batch_size"] = max(picks) if picks else None
    report["evaluator_default_note"] = (
        "the largest per-model fast-mode knee (a size every model ran without running out of memory); "
        "train/evaluate.py defaults to 8 today"
    )
    write_json(REPO / args.out, report, default=str)
    print("| model | mode | " + " | ".join(f"bs {b}" for b in args.batch_sizes) + " |")
    print("|---|---|" + "---|" * len(args.batch_sizes))
    for shape, entry in report["models"].items():
        for mode, res in entry["results"].items():
            cells = [
                str(res.get(str(b), {}).get("examples_per_s", res.get(str(b), {}).get("status", "-")))
                for b in args.batch_sizes
            ]
            print(f"| {shape} | {mode} | " + " | ".join(cells) + " |")
    print(f"recommended evaluator default batch size: {report['evaluator_default_batch_size']}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
