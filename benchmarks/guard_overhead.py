"""What the guard costs per tool call: the proxy with a guardian vs a direct call to the same MCP server, measured in
the same run, plus the guardian alone per check at session lengths of about 1k, 4k and 8k prompt tokens.

    python -m benchmarks.guard_overhead --guardian models/smollm2-135m-instruct --calls 40
    python -m benchmarks.guard_overhead --guardian runs/x --calls 200 --lengths 1000 4000 8000   # on a GPU

Both paths use the SDK's real client over stdio against tests/mcp_servers/mail_server.py, one call at a time. The
proxy reviews every call (log-only policy: nothing is blocked, so both paths do the same work upstream). The
proxy's session grows with each call, so later calls are reviewed against a longer log; the prompt lengths are
reported. The first ``--warmup`` calls (model loading, first forward) are not counted. Ratios are against the
direct baseline of this run: on a shared CPU absolute numbers drift, so the load average is recorded too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mcip.io import write_json

REPO = Path(__file__).resolve().parents[1]

SERVER = [sys.executable, str(REPO / "tests" / "mcp_servers" / "mail_server.py")]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(ms: list[float]) -> dict:
    return {
        "n": len(ms),
        "p50_ms": round(pct(ms, 0.5), 2),
        "p95_ms": round(pct(ms, 0.95), 2),
        "mean_ms": round(statistics.mean(ms), 2),
    }


def time_calls(params, calls: int, warmup: int, meta: dict | None = None) -> list[float]:
    import anyio
    from mcp import Client

    async def main():
        out = []
        async with Client(params, cache=None) as client:
            await client.list_tools()
            for i in range(warmup + calls):
                start = time.perf_counter()
                res = await client.call_tool("add", {"a": i, "b": 1}, meta=meta)
                elapsed = (time.perf_counter() - start) * 1000
                if res.is_error:
                    raise SystemExit(f"call {i} failed: {res.content[0].text}")
                if i >= warmup:
                    out.append(elapsed)
        return out

    return anyio.run(main)


def end_to_end(guardian: str, calls: int, warmup: int, tmp: Path) -> dict:
    from mcp import StdioServerParameters

    policy = tmp / "policy.yaml"
    policy.write_text("thresholds:\n  default: {block: 1.0}\ndeadline_ms: 600000\n")
    audit = tmp / "audit.jsonl"
    env = dict(os.environ) | {
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    direct = StdioServerParameters(command=SERVER[0], args=SERVER[1:])
    proxied = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "guard.cli",
            "proxy",
            "--guardian",
            guardian,
            "--policy",
            str(policy),
            "--audit-log",
            str(audit),
            "--",
            *SERVER,
        ],
        env=env,
        cwd=str(REPO),
    )
    meta = {"mcip/user_request": "Add these numbers for me, one pair at a time."}
    d = time_calls(direct, calls, warmup)
    p = time_calls(proxied, calls, warmup, meta)
    d2 = time_calls(direct, calls, warmup)  # the baseline again, after: the machine's load changes
    base = d + d2
    from mcip.record import load_jsonl

    records = load_jsonl(audit)[warmup:]
    review_ms = [r.meta["guard"]["review"]["seconds"] * 1000 for r in records]
    out = {"direct": summary(base), "proxy": summary(p), "guardian_in_proxy": summary(review_ms)}
    out["overhead_ms"] = {k: round(out["proxy"][k] - out["direct"][k], 2) for k in ("p50_ms", "p95_ms")}
    out["ratio"] = {k: round(out["proxy"][k] / out["direct"][k], 1) for k in ("p50_ms", "p95_ms")}
    out["session_calls_reviewed"] = [warmup + 1, warmup + calls]
    return out


def session_of(tokens: int, count) -> tuple:
    """A session whose guardian prompt is about ``tokens`` long: one request, many earlier calls with real-looking
    results (a mail server's inbox pages), then a proposed call awaiting review."""
    from guard.session import Session
    from mcip.record import Tool

    body = "Hi team, the quarterly numbers are attached; revenue grew 4% while costs held flat. " * 3

    def build(n: int):
        s = Session("mail")
        s.tools = {
            "read_inbox": Tool(name="read_inbox", description="Read the user's inbox.", server="mail"),
            "send_email": Tool(
                name="send_email", description="Send an email on the user's behalf.", server="mail"
            ),
        }
        s._add_request("Summarise the unread mail from this week and reply to Alice.", "meta")
        for i in range(n):
            cid = s.propose("read_inbox", {"page": i + 1})
            s.record_result(
                cid, json.dumps([{"from": f"user{i}@example.com", "subject": f"Update {i}", "body": body}])
            )
        s.propose("send_email", {"to": "alice@example.com", "body": "Summary: revenue up 4%, costs flat."})
        traj = s.snapshot()
        return traj, count(traj)

    (_, size0), (_, size4) = build(0), build(4)
    per_call = (size4 - size0) / 4
    return build(max(0, round((tokens - size0) / per_call)))


def guardian_only(guardian: str, lengths: list[int], repeats: int) -> list[dict]:
    from guard.guardian import Guardian

    g = Guardian(guardian)

    def count(traj):
        return g.loaded.prompt_tokens(g.prompt(traj))

    rows = []
    for target in lengths:
        traj, size = session_of(target, count)
        if not rows:
            g.review_one(
                traj
            )  # one untimed forward pass first (allocator, kernels); on a CPU shape warm-ups add little
        ms = [g.review_one(traj).seconds * 1000 for _ in range(repeats if not rows else max(1, repeats // 2))]
        rows.append({"target_tokens": target, "prompt_tokens": size, **summary(ms)})
        print(
            f"guardian only, {size} prompt tokens: p50 {rows[-1]['p50_ms']} ms, p95 {rows[-1]['p95_ms']} ms",
            flush=True,
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--guardian", default=str(REPO / "models" / "smollm2-135m-instruct"))
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--lengths", type=int, nargs="+", default=[1000, 4000, 7800])  # SmolLM2: 8,192 positions
    ap.add_argument(
        "--repeats", type=int, default=5, help="checks per length (half that beyond the first length)"
    )
    ap.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "guard_overhead.json"))
    args = ap.parse_args()

    import torch

    start = time.time()
    info = {
        "command": "python -m benchmarks.guard_overhead " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "guardian": os.path.relpath(args.guardian, REPO) if os.path.isabs(args.guardian) else args.guardian,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory() as tmp:
        e2e = end_to_end(args.guardian, args.calls, args.warmup, Path(tmp))
    print(
        f"per call: direct p50 {e2e['direct']['p50_ms']} ms / p95 {e2e['direct']['p95_ms']} ms; "
        f"proxy+guardian p50 {e2e['proxy']['p50_ms']} ms / p95 {e2e['proxy']['p95_ms']} ms; "
        f"ratio p50 {e2e['ratio']['p50_ms']}x, p95 {e2e['ratio']['p95_ms']}x; "
        f"overhead p95 {e2e['overhead_ms']['p95_ms']} ms",
        flush=True,
    )
    rows = guardian_only(args.guardian, args.lengths, args.repeats)
    for r in rows:
        r["ratio_vs_direct_p50"] = round(r["p50_ms"] / e2e["direct"]["p50_ms"], 1)
        print(f"  {r['prompt_tokens']} tokens: {r['ratio_vs_direct_p50']}x a direct call's p50", flush=True)
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    info["wall_seconds"] = round(time.time() - start, 1)
    result = {**info, "end_to_end": e2e, "guardian_only": rows}
    write_json(args.output, result, indent=1)
    print(f"wrote {args.output} ({info['wall_seconds']} s)")


if __name__ == "__main__":
    main()
