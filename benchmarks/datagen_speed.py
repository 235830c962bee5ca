"""Data generation speed: records per second per core, and the time for a 100k-record build.

The baseline, measured in the same run, is the cost of merely serialising the same records to JSON (the
issue's "limit to approach"): ``ratio`` says how many times slower generating a record is than dumping it.
Also prints the diversity figures of a built dataset.

    python -m benchmarks.datagen_speed [--records 4000] [--build 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from data_gen.build import Generator, build
from data_gen.recipe import load_recipe
from mcip.io import write_json

REPO = Path(__file__).resolve().parents[1]


def one_core(n: int) -> dict:
    """Generate ``n`` train records in this process (catalogue loaded once beforehand, as in a worker)."""
    recipe = load_recipe(REPO / "recipes/data/default.yaml", ["--num_proc", "1"])
    gen = Generator.from_recipe(recipe)
    start = time.perf_counter()
    rows = [gen.record("train", i) for i in range(n)]
    gen = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(3):
        dumped = [json.dumps(r, ensure_ascii=False) for r in rows]
    dump = (time.perf_counter() - start) / 3
    size = sum(map(len, dumped)) / n
    return {
        "records": n,
        "records_per_s": round(n / gen),
        "json_records_per_s": round(n / dump),
        "ratio_vs_json": round(gen / dump, 1),
        "bytes_per_record": round(size),
    }


def full_build(n: int, num_proc: int) -> dict:
    out = Path(tempfile.mkdtemp()) / "ds"
    recipe = load_recipe(
        REPO / "recipes/data/default.yaml",
        ["--output_dir", str(out), "--train_size", str(n), "--num_proc", str(num_proc)],
    )
    start = time.perf_counter()
    build(recipe, progress=False)
    secs = time.perf_counter() - start
    total = sum(recipe.size(s) for s in ("train", "validation", "test", "test_unseen"))
    stats = json.loads((out / "stats.json").read_text())
    shutil.rmtree(out.parent, ignore_errors=True)
    return {
        "records": total,
        "seconds": round(secs, 1),
        "records_per_s": round(total / secs),
        "num_proc": num_proc,
        "stats": stats,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=4000, help="records for the one-core measurement")
    parser.add_argument("--build", type=int, default=100_000, help="train records of the full build")
    parser.add_argument("--num-proc", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    core = one_core(args.records)
    built = full_build(args.build, args.num_proc)
    print(
        f"\none core: {core['records_per_s']} records/s generated (rendered prompt, SFT pair, record JSON "
        f"included), {core['ratio_vs_json']}x the time of json.dumps alone ({core['json_records_per_s']} "
        f"records/s; {core['bytes_per_record']} bytes a record)"
    )
    print(
        f"full build: {built['records']} records in {built['seconds']} s with {built['num_proc']} processes "
        f"({built['records_per_s']} records/s, {built['records_per_s'] / built['num_proc']:.0f} per core, "
        "DatasetDict + JSONL + card written)"
    )
    print("\n| split | records | intents | phrasings | called tools | servers | flows mean / max |")
    print("|---|---|---|---|---|---|---|")
    for split, s in built["stats"].items():
        print(
            f"| {split} | {s['n']} | {s['distinct_intents']} | {s['distinct_phrasings']} | "
            f"{s['distinct_called_tools']} | {s['distinct_servers']} | {s['flows_mean']} / {s['flows_max']} |"
        )
    if args.json:
        write_json(args.json, {"one_core": core, "build": built})
    return 0


if __name__ == "__main__":
    sys.exit(main())
