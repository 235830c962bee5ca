"""What one guard check costs as a session grows: re-reading the session vs running only its new tokens.

    python -m benchmarks.guard_latency                                   # the shipped guardian, 1k-16k tokens
    python -m benchmarks.guard_latency --model runs/guardian-stream --lengths 1000 4000 8000 16000 --repeats 5

One long session (real-size generated sessions of the default data recipe, one after another, as a busy agent's
day) is judged call by call exactly as the guard does (``mcip.guardian.LoadedGuardian.session_prompt`` with the
guardian's own earlier verdicts, ``check`` with the session's key/value cache). At the ``--repeats`` checks
after the session passes each length, the whole session is also scored from scratch (``reread``: one forward
pass over the session as one chat, with no cache and no window: what a check costs when the guard re-reads
everything), interleaved, so both modes share the machine's load. While the session fits the window both read the
same prompt and give the same verdict (checked). The guardian reads the session in the stream format
(``--stream``, default on, also for a one-shot guardian: the cost is the architecture's, not the training's).
Past the window (``--window``, the guard's ``window_tokens``, default 4,096) the guard re-cuts the history into a
new chat, so the incremental check reads the current chat (each row gives its length); the re-read does not (past
SmolLM2's 8,192 positions a real guard would have to cut it too: it is timed as the cost of not cutting).
``--window 0`` keeps the whole session in one chat for both modes (``--context 20000`` lets it pass 8,192 positions).
Writes ``benchmarks/results/guard_latency.json``: ``{"cpu": ..., "rows": [{"session_tokens", "mode", "p50_ms", ...}]}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

from mcip.io import write_json

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks/results/guard_latency.json"


def long_session(target: int, g, seed_records: int = 600):
    """Generated benign sessions one after another (one user's long day) until the stream the guardian reads
    holds ``target`` tokens; the tools are every session's, listed from the start as a host lists them."""
    from data_gen.build import Generator
    from data_gen.recipe import load_recipe
    from mcip.record import Trajectory

    gen = Generator.from_recipe(load_recipe(REPO / "recipes/data/default.yaml", ["--num_proc", "1"]))
    parts = []
    for i in range(seed_records):
        part = Trajectory.model_validate_json(gen.record("train", i)["trajectory"])
        if part.label != "true":  # a benign day, the guard's common case (verdicts do not change the cost)
            continue
        parts.append(part)
        tools = {t.qualified_name: t for p in parts for t in p.tools}
        day = Trajectory(
            id="long-day", tools=list(tools.values()), messages=[m for p in parts for m in p.messages]
        )
        if len(parts) % 4 == 0 and stream_tokens(day, g) > target * 1.2:
            return day
    raise SystemExit(f"the first {seed_records} records make too short a day")


def stream_tokens(traj, g, upto: int | None = None) -> int:
    """The session's length: its tokens up to position ``upto`` (default: all of it) read as one chat, with no
    window or context to re-cut it (what each row's ``session_tokens`` counts)."""
    from mcip.calls import positions
    from mcip.scoring import encode, render_chat
    from mcip.stream import chats

    n = len(positions(traj)) if upto is None else upto + 1
    count = g.prompter.count_tokens
    (chat,) = chats(traj, ["true"] * n, g.fmt, None, count)
    return len(encode(g.tokenizer, render_chat(g.tokenizer, chat)))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="guardians/smollm2-135m-mcip-cpu")
    ap.add_argument("--lengths", type=int, nargs="+", default=[1000, 4000, 8000, 16000])
    ap.add_argument("--repeats", type=int, default=5, help="checks timed in each mode at each length")
    ap.add_argument("--stream", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument(
        "--context",
        type=int,
        default=None,
        help="positions a chat may take before the stream re-cuts (default: the model's; raise it to time "
        "re-reading a 16k-token chat on a model that attends to 8k)",
    )
    ap.add_argument(
        "--window",
        type=int,
        default=None,
        help="tokens one chat may take before the session re-cuts into a new one (default: the guard's, "
        "mcip.stream.STREAM_WINDOW; 0: the context)",
    )
    ap.add_argument("--output", default=str(OUT))
    args = ap.parse_args(argv)

    import torch

    from mcip.calls import positions
    from mcip.guardian import load_guardian
    from mcip.scoring import encode, render_chat
    from mcip.stream import STREAM_WINDOW
    from train.precision import cpu_model

    if args.threads:
        torch.set_num_threads(args.threads)
    window = STREAM_WINDOW if args.window is None else (args.window or None)
    g = load_guardian(args.model, progress=False, batch_size=1, context=args.context, window=window)
    if args.stream and not g.fmt.stream:
        g = dataclasses.replace(
            g, prompter=dataclasses.replace(g.prompter, fmt=dataclasses.replace(g.fmt, stream=True))
        )
    # the re-read: no cache, no window, no context to cut it: the whole session in one pass
    whole = dataclasses.replace(g, window=None, context=None)
    traj = long_session(max(args.lengths), g)
    found = positions(traj)
    print(f"session: {len(found)} positions, {stream_tokens(traj, g)} tokens; model {args.model}", flush=True)

    verdicts: list[str] = []
    timed: dict[int, dict[str, list]] = {n: {"reread": [], "incremental": []} for n in sorted(args.lengths)}
    g.backend.warm_up([{"role": "user", "content": "warm up"}])
    for k in range(len(found)):
        prompt = g.session_prompt(traj, verdicts)
        ids = encode(g.tokenizer, render_chat(g.tokenizer, prompt))
        start = time.perf_counter()
        check = g.cache.check("day", ids)
        inc_ms = (time.perf_counter() - start) * 1000
        verdicts.append(check.label)
        if all(len(t["reread"]) >= args.repeats for t in timed.values()):
            break
        session = stream_tokens(traj, g, k)
        due = [n for n in timed if session >= n and len(timed[n]["reread"]) < args.repeats]
        if not due:
            continue
        reread = whole.session_prompt(traj, verdicts[:-1])
        start = time.perf_counter()
        p, label, _ = g.backend.fast([reread], with_probs=True)[0]
        re_ms = (time.perf_counter() - start) * 1000
        re_ids = ids if reread == prompt else encode(g.tokenizer, render_chat(g.tokenizer, reread))
        if reread == prompt and (label != check.label or abs(p - check.p_unsafe) > 1e-3):
            raise SystemExit(
                f"position {k}: incremental {check.label} {check.p_unsafe} != reread {label} {p}"
            )
        row = {"session_tokens": session}
        timed[due[0]]["incremental"].append(
            {**row, "prompt_tokens": len(ids), "ms": inc_ms, "computed": check.computed}
        )
        timed[due[0]]["reread"].append(
            {**row, "prompt_tokens": len(re_ids), "ms": re_ms, "computed": len(re_ids)}
        )
        print(
            f"  {session:>6} session tokens, chat {len(ids):>5}: reread {re_ms:8.0f} ms ({len(re_ids)} tokens), "
            f"incremental {inc_ms:7.0f} ms ({check.computed} new tokens)",
            flush=True,
        )

    rows = []
    for n, modes in timed.items():
        for mode, got in modes.items():
            if not got:
                continue
            ms = [x["ms"] for x in got]
            rows.append(
                {
                    "session_tokens": n,
                    "mode": mode,
                    "p50_ms": round(pct(ms, 0.5), 1),
                    "p95_ms": round(pct(ms, 0.95), 1),
                    "n": len(ms),
                    "measured_at_tokens": [x["session_tokens"] for x in got],
                    "prompt_tokens_p50": int(statistics.median(x["prompt_tokens"] for x in got)),
                    "computed_tokens_p50": int(statistics.median(x["computed"] for x in got)),
                    "ms": [round(x, 1) for x in ms],
                }
            )
    p50 = {(r["session_tokens"], r["mode"]): r["p50_ms"] for r in rows}
    # the ratio of the two modes check by check (both timed back to back, under the same load), then its median:
    # steadier than a ratio of medians when the machine's load drifts during the run
    ratios = {
        str(n): round(statistics.median(r["ms"] / i["ms"] for r, i in zip(t["reread"], t["incremental"])), 2)
        for n, t in timed.items()
        if t["reread"]
    }
    inc = [p50[(n, "incremental")] for n in sorted(timed) if (n, "incremental") in p50]
    out = {
        "cpu": cpu_model(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "threads": torch.get_num_threads(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "model": args.model,
        "format": "stream" if g.fmt.stream else "one-shot",
        "context": g.context,
        "window": g.window,
        "cache": g.cache.stats.to_dict(),
        "rows": rows,
        "reread_over_incremental": ratios,
        "incremental_p50_max_over_min": round(max(inc) / min(inc), 2) if inc else None,
        "command": "python -m benchmarks.guard_latency " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    write_json(Path(args.output), out)
    print(f"{'session tokens':>15} {'mode':>12} {'p50 ms':>9} {'p95 ms':>9} {'tokens run':>10}")
    for r in rows:
        print(
            f"{r['session_tokens']:>15} {r['mode']:>12} {r['p50_ms']:>9} {r['p95_ms']:>9} {r['computed_tokens_p50']:>10}"
        )
    print(
        "reread / incremental (median of per-check ratios):",
        ratios,
        "| incremental max/min:",
        out["incremental_p50_max_over_min"],
    )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
