"""Data generation speed: ``make data`` (``python -m data_gen``) timed end to end, before and after, in one run.

Each side is a checkout (``--baseline``: e.g. ``git worktree add /tmp/datagen_base <commit>``; the candidate is
this checkout unless ``--candidate`` names another). Every run is the real command line ``make data`` uses, with
that checkout's own ``recipes/data/default.yaml`` (real-size sessions, prompt budget, 2 processes) and smaller
split sizes, in a subprocess whose imports come from that checkout. Runs alternate (baseline, candidate, baseline,
...) so a change in the machine's load hits both sides alike; the figures are medians over ``--repeats``.

Two clocks: wall seconds, and CPU seconds of the build with its worker processes (user + system). On a shared
machine the wall clock mostly measures the scheduler, so the speed-up is read off the CPU seconds; both are
written. A build has a fixed cost (imports, loading the catalogue) besides its cost per record, so each side is
also built with ``--small-train-size`` training records: the two sizes give the CPU seconds per record and the
fixed cost, and from them the CPU seconds of the real-size build (the recipe's own split sizes) on each side. Every run also hashes what it wrote (the JSONL copies, the Arrow files of the DatasetDict, stats.json):
the candidate must write the same bytes as the baseline for the same seed, or the benchmark says which file
differs and fails.

    python -m benchmarks.datagen_speed --baseline /tmp/datagen_base [--train-size 2000 --eval-size 200]
        [--repeats 2] [--json benchmarks/results/datagen_speed.json] [--note "measured under load"]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mcip.io import write_json

REPO = Path(__file__).resolve().parents[1]
# What a run's records are: the bytes of these files. recipe.json and the card (README.md) are left out, since they
# echo the recipe's own keys, which a side may name differently without generating different records.
RECORD_FILES = ("jsonl/", ".arrow", "stats.json")


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and any(key in str(p.relative_to(out)) for key in RECORD_FILES)
    }


def run_build(checkout: Path, args: argparse.Namespace, train_size: int) -> dict:
    """One ``python -m data_gen`` build from ``checkout``: wall and CPU seconds, record count, file digests."""
    tmp = Path(tempfile.mkdtemp(prefix="datagen_speed_"))
    out = tmp / "ds"
    sizes = ["--train_size", str(train_size)]
    for split in ("validation", "test", "test_unseen"):
        sizes += [f"--{split}_size", str(args.eval_size)]
    cmd = [
        sys.executable,
        "-m",
        "data_gen",
        "--config",
        "recipes/data/default.yaml",
        "--output_dir",
        str(out),
        "--num_proc",
        str(args.num_proc),
        "--seed",
        str(args.seed),
        *sizes,
    ]
    env = {**os.environ, "PYTHONPATH": str(checkout), "TQDM_DISABLE": "1"}
    cpu, start = _cpu_children(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - start, _cpu_children() - cpu
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SystemExit(f"{checkout}: data_gen failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    stats = json.loads((out / "stats.json").read_text())
    records = sum(s["n"] for s in stats.values())
    result = {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "records": records,
        "records_per_cpu_s": round(records / cpu, 1),
        "digests": _digests(out),
        "stats": stats,
    }
    shutil.rmtree(tmp, ignore_errors=True)
    return result


def _side(runs: list[dict], small: list[dict], real_size: int) -> dict:
    cpu = statistics.median(r["cpu_s"] for r in runs)
    out = {
        "wall_s": [r["wall_s"] for r in runs],
        "cpu_s": [r["cpu_s"] for r in runs],
        "median_wall_s": round(statistics.median(r["wall_s"] for r in runs), 2),
        "median_cpu_s": round(cpu, 2),
        "records": runs[0]["records"],
        "records_per_cpu_s": round(runs[0]["records"] / cpu, 1),
    }
    if small:
        small_cpu = statistics.median(r["cpu_s"] for r in small)
        per_record = (cpu - small_cpu) / (runs[0]["records"] - small[0]["records"])
        fixed = cpu - per_record * runs[0]["records"]
        out |= {
            "small_records": small[0]["records"],
            "small_cpu_s": [r["cpu_s"] for r in small],
            "cpu_ms_per_record": round(per_record * 1e3, 3),
            "fixed_cpu_s": round(fixed, 2),
            "real_size_records": real_size,
            "real_size_cpu_s_projected": round(fixed + per_record * real_size, 1),
        }
    return out


def _real_size(checkout: Path) -> int:
    """The records of the recipe's own build (what ``make data`` writes), from the candidate's default recipe."""
    import yaml

    recipe = yaml.safe_load((checkout / "recipes/data/default.yaml").read_text())
    return sum(int(recipe[f"{split}_size"]) for split in ("train", "validation", "test", "test_unseen"))


def _identical(runs: dict[str, list[dict]]) -> tuple[bool, list[str]]:
    """Whether every run of every side wrote the same record files; the differing paths otherwise."""
    first = runs["baseline"][0]["digests"]
    differing = set()
    for side in runs.values():
        for r in side:
            keys = set(first) | set(r["digests"])
            differing |= {k for k in keys if first.get(k) != r["digests"].get(k)}
    return not differing, sorted(differing)


def _git_head(checkout: Path) -> str | None:
    proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True)
    return proc.stdout.strip() or None


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return platform.processor()
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--baseline", type=Path, required=True, help="checkout of the code to compare against"
    )
    parser.add_argument(
        "--candidate", type=Path, default=REPO, help="checkout under test (default: this one)"
    )
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--small-train-size", type=int, default=500, help="0: no second size")
    parser.add_argument("--eval-size", type=int, default=200, help="validation, test and test_unseen each")
    parser.add_argument("--num-proc", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--note", default="", help="how the machine was loaded, for the result file")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    sides = {"baseline": args.baseline.resolve(), "candidate": args.candidate.resolve()}
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    small: dict[str, list[dict]] = {name: [] for name in sides}
    sizes = [args.train_size] + ([args.small_train_size] if args.small_train_size else [])
    for i in range(args.repeats):
        for size in sizes:
            for name, checkout in sides.items():  # alternating, so load changes hit both sides
                r = run_build(checkout, args, size)
                (runs if size == args.train_size else small)[name].append(r)
                print(
                    f"run {i + 1} {name}: {r['records']} records, {r['wall_s']} s wall, {r['cpu_s']} CPU-s "
                    f"({r['records_per_cpu_s']} records per CPU-second)",
                    flush=True,
                )
    same, differing = _identical(runs)
    small_same, small_differing = _identical(small) if args.small_train_size else (True, [])
    same, differing = same and small_same, sorted({*differing, *small_differing})
    real_size = _real_size(sides["candidate"])
    result = {name: _side(r, small[name], real_size) for name, r in runs.items()}
    speedup_cpu = result["baseline"]["median_cpu_s"] / result["candidate"]["median_cpu_s"]
    speedup_wall = result["baseline"]["median_wall_s"] / result["candidate"]["median_wall_s"]
    summary = {
        "what": (
            "python -m data_gen --config recipes/data/default.yaml (what make data runs) from each checkout, "
            "runs alternating; CPU-s = user + system of the build and its worker processes"
        ),
        "command": "python -m benchmarks.datagen_speed "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "note": args.note,
        "sizes": {"train": args.train_size, "validation, test, test_unseen each": args.eval_size},
        "num_proc": args.num_proc,
        "seed": args.seed,
        "baseline_commit": _git_head(sides["baseline"]),
        "candidate_commit": _git_head(sides["candidate"]),
        **result,
        "speedup_cpu": round(speedup_cpu, 2),
        "speedup_wall": round(speedup_wall, 2),
        **(
            {
                "speedup_cpu_per_record": round(
                    result["baseline"]["cpu_ms_per_record"] / result["candidate"]["cpu_ms_per_record"], 2
                ),
                "speedup_real_size_projected": round(
                    result["baseline"]["real_size_cpu_s_projected"]
                    / result["candidate"]["real_size_cpu_s_projected"],
                    2,
                ),
            }
            if args.small_train_size
            else {}
        ),
        "records_identical": same,
        "differing_files": differing,
        "record_digests": runs["candidate"][0]["digests"],
    }
    print(
        f"\nspeed-up: {speedup_cpu:.2f}x in CPU seconds, {speedup_wall:.2f}x in wall seconds "
        f"(medians of {args.repeats}); records identical: {same}"
        + (f" (differ: {', '.join(differing)})" if differing else "")
    )
    if args.small_train_size:
        for name in sides:
            r = result[name]
            print(
                f"{name}: {r['cpu_ms_per_record']} CPU-ms a record + {r['fixed_cpu_s']} CPU-s fixed; "
                f"real size ({real_size} records): {r['real_size_cpu_s_projected']} CPU-s projected"
            )
        print(
            f"speed-up per record: {summary['speedup_cpu_per_record']}x; "
            f"at real size (projected): {summary['speedup_real_size_projected']}x"
        )
    print("\n| split | records | intents | phrasings | called tools | servers | flows mean / max |")
    print("|---|---|---|---|---|---|---|")
    for split, s in runs["candidate"][0]["stats"].items():
        print(
            f"| {split} | {s['n']} | {s['distinct_intents']} | {s['distinct_phrasings']} | "
            f"{s['distinct_called_tools']} | {s['distinct_servers']} | {s['flows_mean']} / {s['flows_max']} |"
        )
    if args.json:
        write_json(args.json, summary)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
