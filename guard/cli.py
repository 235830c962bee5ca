"""``mcip-guard``: review logs, guard an MCP server, or answer a client's pre-tool-use hook.

    mcip-guard review LOG.jsonl --guardian DIR [--policy FILE] [--batch-size 8]
    mcip-guard proxy --guardian DIR [--policy FILE] [--audit-log FILE] -- python my_server.py
    mcip-guard proxy --guardian DIR --upstream http://127.0.0.1:8000/mcp
    mcip-guard proxy --guardian DIR --http 8765 -- python my_server.py   # serve clients over streamable HTTP
    mcip-guard hook --guardian DIR [--policy FILE]        # Claude-Code-style PreToolUse hook: JSON on stdin
    mcip-guard check --guardian DIR [--policy FILE]       # time a pass here; suggest a deadline_ms
    mcip-guard check-policy FILE

Bad input exits with code 2 and one line naming the file, record and field.
"""

from __future__ import annotations

import argparse
import json
import sys

from guard.policy import PolicyError, load_policy


def _guardian_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--guardian", help="model folder, LoRA adapter folder, merged export or Hub id")
    p.add_argument(
        "--api-base", help="an OpenAI-compatible endpoint serving the guardian, instead of a model"
    )
    p.add_argument("--api-model", help="the model name the endpoint serves")
    p.add_argument("--api-key-env", help="environment variable that holds the endpoint's API key")
    p.add_argument("--policy", help="policy YAML (default: built-in, fail closed, block at P(unsafe) >= 0.5)")
    p.add_argument("--batch-size", type=int, default=8)


def _guardian_factory(args, policy):
    from guard.guardian import Guardian

    if not (args.guardian or args.api_base):
        raise SystemExit("error: --guardian DIR (or --api-base URL) is required")

    def make():
        return Guardian(
            args.guardian,
            api_base=args.api_base,
            api_model=args.api_model,
            api_key_env=args.api_key_env,
            batch_size=args.batch_size,
            window=policy.model.window_tokens,
        )

    return make


def cmd_review(args) -> int:
    from guard.guardian import GuardianError
    from mcip.record import RecordError, load_jsonl, not_gold

    policy = load_policy(args.policy)
    try:
        records = load_jsonl(args.log)
        guardian = _guardian_factory(args, policy)()
    except (RecordError, GuardianError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    per_call = guardian.loaded.fmt.stream if args.per_call is None else args.per_call
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115

    def action(review) -> str:
        return policy.action_for(review.p_unsafe if review.p_unsafe is not None else 1.0, review.top_risk)

    def rows(start: int, chunk):
        if not per_call:
            yield from zip(
                range(start, start + len(chunk)), chunk, guardian.review(chunk), [None] * len(chunk)
            )
            return
        for i, traj in enumerate(chunk, start):
            log, calls = guardian.review_calls(traj)  # one incremental pass over the log
            yield i, traj, log, [{**pos, "action": action(r), **r.to_dict()} for pos, r in calls]

    try:
        for start in range(0, len(records), args.batch_size):
            chunk = records[start : start + args.batch_size]
            for i, traj, review, calls in rows(start + 1, chunk):
                if review is None:  # a log without a call or an answer: nothing to judge per call
                    review = guardian.review([traj])[0]
                row = {"index": i, "id": traj.id, "action": action(review), **review.to_dict()}
                if calls is not None:  # the record's verdict is its first unsafe call's (the paper's label)
                    row["calls"] = calls
                # a gold label is a person's: never the guardian verdict an audit log (or an old one) carries
                if traj.label is not None and not_gold(traj) is None:
                    row["gold"] = traj.label
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                out.flush()
    except GuardianError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _exit_on_start_error(err: BaseException) -> None:
    """The upstream did not start: say why and exit now (the SDK's stdin reader thread would hold the process
    until the client closes its end)."""
    import os

    print(f"error: mcip-guard proxy: {err}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(1)


def cmd_proxy(args) -> int:
    import anyio

    from guard.gate import GuardianLoader
    from guard.guardian import missing_guardian
    from guard.proxy import GuardedProxy, ProxyConfig, say
    from guard.upstream import UpstreamStartError

    command = [c for c in args.command if c != "--"] if args.command else None
    if bool(command) == bool(args.upstream):
        print(
            "error: give the upstream as `-- COMMAND ...` (stdio) or --upstream URL, not both",
            file=sys.stderr,
        )
        return 2
    policy = load_policy(args.policy)
    if policy.fail_open:
        say(f"WARNING: policy {policy.source} is fail-open: calls run unreviewed when the guardian fails")
    missing = None if args.api_base else missing_guardian(args.guardian)
    if missing:  # a typo in the path: refuse to start, rather than block (or pass) every call later
        print(f"error: mcip-guard proxy: {missing}", file=sys.stderr)
        return 2

    def load_failed(err: BaseException) -> None:
        then = "calls run UNREVIEWED (fail_mode: open)" if policy.fail_open else "every call is blocked"
        say(f"ERROR: the guardian failed to load: {type(err).__name__}: {err}. Until restarted, {then}.")

    def ready(measured: dict) -> None:
        if measured:
            say(
                f"guardian ready; a pass takes {measured['short_pass_s']:.2f} s here "
                f"({measured['long_pass_s']:.2f} s on a long session, {measured['incremental_pass_s']:.2f} s for "
                f"its next call from the session's cache): deadline {measured['deadline_ms']} ms (auto), which covers "
                "a cold pass"
            )

    name = args.guardian or args.api_model or args.api_base
    loader = GuardianLoader(
        _guardian_factory(args, policy),
        name,
        on_error=load_failed,
        calibrate=policy.deadline_auto,
        on_ready=ready,
    )
    cfg = ProxyConfig(
        policy=policy,
        upstream_command=command,
        upstream_url=args.upstream,
        audit_log=args.audit_log,
        pins=args.pins,
        session_file=args.session_file,
        server_name=args.server_name,
        start_timeout_s=args.start_timeout,
        on_start_error=_exit_on_start_error,
    )
    try:
        if args.http is not None:
            from dataclasses import replace

            from guard.http_serve import run_http

            # one session's failed start ends that session only, not the server
            per_session = replace(cfg, on_start_error=None)
            anyio.run(run_http, lambda: GuardedProxy(per_session, loader), args.host, args.http)
        else:
            anyio.run(GuardedProxy(cfg, loader).run_stdio)
    except KeyboardInterrupt:
        return 130
    except BaseException as err:  # the upstream could not start or answer: say so
        inner = err
        while len(getattr(inner, "exceptions", ())) == 1:
            inner = inner.exceptions[0]
        if isinstance(inner, UpstreamStartError):
            print(f"error: mcip-guard proxy: {inner}", file=sys.stderr)
        else:
            print(f"error: mcip-guard proxy: {type(inner).__name__}: {inner}", file=sys.stderr)
        return 1
    return 0


def cmd_hook(args) -> int:
    from guard.hook import run_hook

    policy = load_policy(args.policy)
    return run_hook(args, policy, _guardian_factory(args, policy))


def cmd_check(args) -> int:
    """Load the guardian, time its pass on this machine, and suggest a deadline for the policy."""
    import time

    from guard.gate import AUTO_FACTOR, measure
    from guard.guardian import GuardianError, missing_guardian

    policy = load_policy(args.policy)
    missing = None if args.api_base else missing_guardian(args.guardian)
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        guardian = _guardian_factory(args, policy)()
        load_s = time.perf_counter() - start
        measured = measure(guardian)
    except GuardianError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    current = policy.model.deadline_ms
    report = {
        "guardian": guardian.name,
        "load_s": round(load_s, 3),
        **measured,
        "suggested_deadline_ms": measured["deadline_ms"],
        "rule": f"{AUTO_FACTOR:g} x the long-session pass, rounded up to 500 ms, at least 2000 ms (a cold pass: "
        "a session's first call or one whose cache was evicted; later calls run only their new tokens)",
        "policy": policy.source,
        "policy_deadline_ms": current,
        # a stream guardian reads a live session as one chat up to this many tokens, then re-cuts it
        "window_tokens": guardian.loaded.window if guardian.loaded.fmt.stream else None,
        # the operating point every verdict is read through (mcip_calibration.json), None for the raw model
        "calibration": guardian.loaded.calibration and guardian.loaded.calibration.to_dict(),
    }
    del report["deadline_ms"]
    if current != "auto" and current < measured["long_pass_s"] * 1000:
        report["warning"] = (
            f"the policy's {current} ms deadline is shorter than a pass here ({measured['long_pass_s']:.2f} s): "
            "calls will be blocked (fail closed) or run unreviewed (fail open)"
        )
    print(json.dumps(report, indent=1))
    print(
        f"# put this in the policy, or keep `deadline_ms: auto` to measure at every start:\n"
        f"deadline_ms: {measured['deadline_ms']}",
        file=sys.stderr,
    )
    return 0


def cmd_check_policy(args) -> int:
    policy = load_policy(args.file)
    print(json.dumps(policy.model.model_dump(), indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcip-guard", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("review", help="review every record of an interchange JSONL log; one JSON line each")
    p.add_argument("log")
    p.add_argument("--output", help="write the JSON lines here instead of stdout")
    p.add_argument(
        "--per-call",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="judge every call and answer of each log in one incremental pass, as the guard would have, and "
        "list them under `calls` (default: on for a stream-format guardian)",
    )
    _guardian_args(p)
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("proxy", help="guard one MCP server: stdio or HTTP downstream, stdio or HTTP upstream")
    _guardian_args(p)
    p.add_argument("--upstream", help="streamable-HTTP URL of the upstream server (instead of a command)")
    p.add_argument("--audit-log", help="append every reviewed call here as interchange JSONL")
    p.add_argument(
        "--http", type=int, metavar="PORT", help="serve clients over streamable HTTP (default: stdio)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address for --http (default 127.0.0.1)")
    p.add_argument("--pins", help="JSON file of pinned tool descriptions, kept across sessions")
    p.add_argument("--session-file", help="JSON file where the host writes the user's request(s)")
    p.add_argument("--server-name", help="name of the upstream server in logs (default: its serverInfo name)")
    p.add_argument(
        "--start-timeout",
        type=float,
        default=60.0,
        help="seconds the upstream has to answer the client's first request (default 60; 0: no limit)",
    )
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS... that starts the upstream")
    p.set_defaults(func=cmd_proxy)

    p = sub.add_parser("hook", help="PreToolUse hook: read the client's JSON on stdin, print a decision")
    _guardian_args(p)
    p.add_argument("--audit-log", help="append every reviewed call here as interchange JSONL")
    p.set_defaults(func=cmd_hook)

    p = sub.add_parser("check", help="time the guardian's pass on this machine and suggest a deadline_ms")
    _guardian_args(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("check-policy", help="validate a policy file and print it with its defaults")
    p.add_argument("file")
    p.set_defaults(func=cmd_check_policy)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PolicyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
