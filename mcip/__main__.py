"""`python -m mcip`: look at the core format without training anything.

python -m mcip taxonomy                      the 11 labels and the 15 attacks
python -m mcip render --example bmi-injected the guardian prompt and answer for a built-in example
python -m mcip render FILE.jsonl --index 3   ... for a record of your own
python -m mcip validate FILE.jsonl           check records; print errors and flags
"""

from __future__ import annotations

import argparse
import sys

from mcip.examples import EXAMPLES
from mcip.flows import derive_flows, flags
from mcip.prompt import STYLES, build_paper_prompt, build_prompt, format_answer, render_mci_log
from mcip.record import RecordError, iter_jsonl, load_jsonl
from mcip.taxonomy import ATTACKS, markdown_table


def _render(args: argparse.Namespace) -> int:
    if args.file:
        records = load_jsonl(args.file)
        if not 0 <= args.index < len(records):
            raise RecordError(f"{args.file}: --index {args.index} out of range (0..{len(records) - 1})")
        traj = records[args.index]
    else:
        traj = EXAMPLES[args.example]()
    messages = (
        build_paper_prompt(traj, args.log_budget)
        if args.protocol == "paper"
        else build_prompt(traj, args.style, args.log_budget, relations=args.relations)
    )
    for m in messages:
        print(f"===== {m['role']} =====\n{m['content']}")
    if traj.label and args.protocol == "guardian":
        print(f"===== assistant (target) =====\n{format_answer(traj.label)}")
    print(f"===== MCI log =====\n{render_mci_log(derive_flows(traj))}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    n = flagged = 0
    for traj in iter_jsonl(args.file):
        n += 1
        for finding in flags(traj):
            flagged += 1
            print(f"{args.file}: record {traj.id or n}: flag: {finding}")
    print(f"{args.file}: {n} valid record(s), {flagged} flag(s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mcip", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("taxonomy", help="print the labels and attacks")
    r = sub.add_parser("render", help="render the guardian prompt for a record")
    r.add_argument("file", nargs="?", help="a JSONL file of trajectory records")
    r.add_argument("--index", type=int, default=0)
    r.add_argument("--example", choices=sorted(EXAMPLES), default="bmi-injected")
    r.add_argument("--style", choices=STYLES, default="full")
    r.add_argument("--protocol", choices=("guardian", "paper"), default="guardian")
    r.add_argument("--log-budget", type=int, default=None, help="tokens the rendered log may take")
    r.add_argument(
        "--relations", action="store_true", help="a facts line under each call (mcip/relations.py)"
    )
    v = sub.add_parser("validate", help="validate a JSONL file of trajectory records")
    v.add_argument("file")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "taxonomy":
            print(markdown_table())
            print("\n| attack | phase | source | scope | type | MAESTRO |\n|---|---|---|---|---|---|")
            for a in ATTACKS:
                scope = a.scope.value + (f" ({a.element.value})" if a.element else "")
                print(
                    f"| {a.name} | {a.phase.value} | {a.source.value} | {scope} | {a.type.value} | "
                    f"{', '.join(a.maestro)} |"
                )
            return 0
        return _render(args) if args.cmd == "render" else _validate(args)
    except (RecordError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
