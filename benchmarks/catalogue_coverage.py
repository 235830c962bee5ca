"""How well a build from imported catalogues alone covers them: labels produced, and the share of the imported
tools that at least one benign (label ``true``) scenario calls. Also writes a sample of records to read.

    python -m data_gen import-tools mcp ../shared/data/livemcp-tools/tools.json --out servers/
    python -m data_gen --config recipes/data/default.yaml --catalogues servers/ --builtin_servers false \\
        --holdout_servers '[...]' --output_dir data/livemcp
    python -m benchmarks.catalogue_coverage --data data/livemcp --catalogues servers/ \\
        [--sample 50 --sample-out sample.md] [--json benchmarks/results/livemcp_coverage.json]

Tools counted are the regular tools of the imported (non-shadow) servers: not the synthesized admin twins and
look-alikes, which benign scenarios never call on purpose.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from random import Random

from data_gen.catalogue import load_catalogue
from mcip.io import write_json
from mcip.prompt import build_prompt
from mcip.record import Trajectory
from mcip.taxonomy import LABEL_STRINGS

REPO = Path(__file__).resolve().parents[1]

SPLITS = ("train", "validation", "test", "test_unseen")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True)
    parser.add_argument("--catalogues", required=True)
    parser.add_argument("--sample", type=int, default=50)
    parser.add_argument("--sample-out", default=None, help="markdown file with the sampled records, rendered")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    cat = load_catalogue([args.catalogues])
    regular = {t.qualified for s in cat.servers.values() if not s.shadow for t in s.tools if not t.twin_of}
    records: list[Trajectory] = []
    for split in SPLITS:
        path = Path(args.data) / "jsonl" / f"{split}.jsonl"
        if path.exists():
            records += [
                Trajectory.model_validate_json(line) for line in path.read_text().splitlines() if line
            ]
    labels = Counter(r.label for r in records)
    used: set[str] = set()
    for r in records:
        if r.label == "true":
            for _, c in r.calls():
                tool = r.tool(c.function.name)
                if tool is not None:
                    used.add(tool.qualified_name)
    covered = regular & used
    missing = sorted(regular - used)
    out = {
        "records": len(records),
        "labels": {lb: labels.get(lb, 0) for lb in LABEL_STRINGS},
        "all_labels_produced": all(labels.get(lb, 0) > 0 for lb in LABEL_STRINGS),
        "regular_tools": len(regular),
        "tools_in_benign": len(covered),
        "benign_tool_coverage": round(len(covered) / max(1, len(regular)), 3),
        "multi_step_intents": sum(len(i.steps) > 1 for i in cat.intents),
        "tools_with_prerequisites": sum(bool(t.requires) for t in cat.tools.values()),
        "uncovered_examples": missing[:20],
    }
    print(json.dumps(out, indent=2))
    if args.sample_out:
        rng = Random(0)
        picks = rng.sample(records, min(args.sample, len(records)))
        parts = []
        for i, r in enumerate(picks, 1):
            body = build_prompt(r, "compact", None)[1]["content"]
            log = body[body.find("[MCI LOG]") :] if "[MCI LOG]" in body else body
            parts.append(
                f"## {i}. {r.label} ({r.meta.get('kind')}, {r.meta.get('split')})\n\n"
                f"Rationale: {r.meta.get('rationale')}\n\n```\n{log[:6000]}\n```\n"
            )
        Path(args.sample_out).write_text("\n".join(parts))
    if args.json:
        write_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
