"""Session shape and size: a built dataset beside real MCP servers, and the targets of issue 15.

For a dataset split (default ``test_unseen``) it measures, with the SmolLM2 tokenizer: tools per server (distinct
tools seen per server), tool description and input-schema tokens (per distinct tool), tools listed per record,
user turns per record, and the rendered guardian log (compact style, untruncated) per record. For the real
servers of a captured ``tools/list`` file (``../shared/data/livemcp-tools/tools.json``) it measures what such a
file holds: tools per server, description and schema tokens. Then it checks the targets:

- rendered compact log: median >= 1,500 tokens and p90 >= 4,000;
- median tools listed >= 15; >= 30% of records multi-turn (two or more user requests);
- short records remain: >= 10% of records under 1,000 tokens.

    python -m benchmarks.session_stats --data data/mcip-synth [--baseline old/jsonl/test_unseen.jsonl]
        [--json benchmarks/results/session_stats.json]

``--data`` takes a built dataset folder (its ``jsonl/<split>.jsonl``) or a JSONL file of trajectories.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from random import Random

from mcip.io import write_json
from mcip.prompt import build_prompt
from mcip.record import Trajectory

REPO = Path(__file__).resolve().parents[1]

REAL = REPO.parent / "shared" / "data" / "livemcp-tools" / "tools.json"
TOKENIZER = REPO / "models" / "smollm2-135m-instruct"
TARGETS = {
    "log_tokens_median": 1500,
    "log_tokens_p90": 4000,
    "tools_listed_median": 15,
    "multi_turn_share": 0.30,
    "short_share": 0.10,
}
SHORT = 1000


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"median": 0, "p90": 0, "max": 0}
    return {"median": statistics.median(values), "p90": pct(values, 0.9), "max": max(values)}


class Counter:
    def __init__(self, path: Path):
        from transformers import AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(str(path))

    def many(self, texts: list[str]) -> list[int]:
        out = []
        for i in range(0, len(texts), 256):
            out += [len(ids) for ids in self.tok(texts[i : i + 256], add_special_tokens=False)["input_ids"]]
        return out


def _tool_table(tools: dict[str, dict], by_server: dict[str, set[str]], count: Counter) -> dict:
    names = sorted(tools)
    desc = count.many([tools[n].get("description") or "" for n in names])
    schema = count.many([json.dumps(tools[n].get("inputSchema") or {}, ensure_ascii=False) for n in names])
    return {
        "servers": len(by_server),
        "tools": len(names),
        "tools_per_server": summary([len(v) for v in by_server.values()]),
        "description_tokens": summary(desc),
        "schema_tokens": summary(schema),
    }


def real_servers(path: Path, count: Counter) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    tools: dict[str, dict] = {}
    by_server: dict[str, set[str]] = defaultdict(set)
    for entry in data:
        for server, block in (entry.get("tools") or {}).items():
            for t in block.get("tools") or ():
                key = f"{server}.{t['name']}"
                tools[key] = t
                by_server[server].add(key)
    return _tool_table(tools, by_server, count)


def read_records(path: Path, split: str) -> list[Trajectory]:
    file = path / "jsonl" / f"{split}.jsonl" if path.is_dir() else path
    with open(file, encoding="utf-8") as fh:
        return [Trajectory.model_validate_json(line) for line in fh if line.strip()]


def dataset(records: list[Trajectory], count: Counter) -> dict:
    tools: dict[str, dict] = {}
    by_server: dict[str, set[str]] = defaultdict(set)
    for r in records:
        for t in r.tools:
            tools.setdefault(t.qualified_name, {"description": t.description, "inputSchema": t.inputSchema})
            by_server[t.server or ""].add(t.qualified_name)
    table = _tool_table(tools, by_server, count)
    bodies = [build_prompt(r, "compact", None)[1]["content"] for r in records]
    logs = count.many(bodies)
    turns = [sum(m.role == "user" for m in r.messages) for r in records]
    listed = [len(r.tools) for r in records]
    table.update(
        {
            "records": len(records),
            "tools_listed": summary(listed),
            "user_turns": {**summary(turns), "mean": round(statistics.mean(turns), 2)},
            "multi_turn_share": round(sum(t >= 2 for t in turns) / len(turns), 3),
            "log_tokens": summary(logs),
            "short_share": round(sum(n < SHORT for n in logs) / len(logs), 3),
        }
    )
    return table


def check(stats: dict) -> dict[str, dict]:
    got = {
        "log_tokens_median": stats["log_tokens"]["median"],
        "log_tokens_p90": stats["log_tokens"]["p90"],
        "tools_listed_median": stats["tools_listed"]["median"],
        "multi_turn_share": stats["multi_turn_share"],
        "short_share": stats["short_share"],
    }
    return {k: {"target": TARGETS[k], "value": v, "met": v >= TARGETS[k]} for k, v in got.items()}


def _fmt(s: dict | None, key: str) -> str:
    if not s or key not in s:
        return "-"
    v = s[key]
    return f"{v['median']:g} / {v['p90']:g} / {v['max']:g}"


def table(cols: dict[str, dict | None]) -> str:
    heads = list(cols)
    rows = [
        ("tools per server (median / p90 / max)", "tools_per_server"),
        ("tool description tokens", "description_tokens"),
        ("input schema tokens", "schema_tokens"),
        ("tools listed per record", "tools_listed"),
        ("user turns per record", "user_turns"),
        ("rendered compact log tokens", "log_tokens"),
    ]
    out = ["| | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    for title, key in rows:
        out.append(f"| {title} | " + " | ".join(_fmt(cols[h], key) for h in heads) + " |")
    multi = " | ".join(
        f"{c['multi_turn_share']:.0%}" if c and "multi_turn_share" in c else "-" for c in cols.values()
    )
    out.append(f"| multi-turn records | {multi} |")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="built dataset folder or JSONL of trajectories")
    parser.add_argument("--split", default="test_unseen")
    parser.add_argument("--baseline", default=None, help="the same for the data before (a 'before' column)")
    parser.add_argument("--real", default=str(REAL), help="captured MCP tools/list file (livemcp format)")
    parser.add_argument("--tokenizer", default=str(TOKENIZER))
    parser.add_argument("--limit", type=int, default=2000, help="records sampled per dataset (seeded)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    count = Counter(Path(args.tokenizer))

    def load(path: str) -> dict:
        records = read_records(Path(path), args.split)
        if len(records) > args.limit:
            records = Random(0).sample(records, args.limit)
        return dataset(records, count)

    cols: dict[str, dict | None] = {}
    if args.baseline:
        cols["before"] = load(args.baseline)
    cols["ours"] = load(args.data)
    real = Path(args.real)
    cols["real servers"] = real_servers(real, count) if real.exists() else None
    targets = check(cols["ours"])
    print(table(cols))
    print()
    for k, t in targets.items():
        print(f"{'MET ' if t['met'] else 'MISS'} {k}: {t['value']} (target >= {t['target']})")
    if args.json:
        payload = {"split": args.split, "columns": cols, "targets": targets, "data": args.data}
        write_json(args.json, payload)
    return 0 if all(t["met"] for t in targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
