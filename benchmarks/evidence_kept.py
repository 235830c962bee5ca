"""Evidence kept: does a recipe's rendering still show the flow that makes an unsafe log unsafe?

A guardian cannot learn, nor judge, a class whose evidence the prompt no longer shows. Generated records name
their deviating call or answer (``meta.call_labels``); each unsafe record of ``--split`` is rendered the way
``--recipe`` renders it (its style, log budget, tokenizer and ``max_length``, through ``mcip.prompting``), and the
deviating flow is found in the text: **legible** (its request, arguments or answer shown, whole or head-and-tail),
**cut to nothing** (only a cut marker), or **omitted**. A verdict often turns on more than that one flow (a replay
on the first call, an injection on the result that carried it), so each unsafe record and each hard negative is
also checked for **every flow its rationale cites** being legible (for an unsafe record, through
``mcip.prompting.hidden_evidence``, the rule training counts and ``drop_hidden_evidence`` applies): a record where
one is not teaches a label the prompt cannot support. Two cutting rules in one run, on the same records: the
current one (``mcip.prompt.EVIDENCE_FLOOR`` characters of evidence kept while old flows are omitted) and
``--before-floor`` (0: the rule before, which cut every request and argument to nothing before omitting a flow).

    python -m benchmarks.evidence_kept --data data/mcip-synth --recipe recipes/smollm2-135m/guardian_cpu.yaml \
        --n 600 [--json benchmarks/results/evidence_kept.json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from unittest import mock

import mcip.prompt
from benchmarks.shortcut_probe import DEFAULT_RECIPE, recipe_prompter
from mcip.calls import META_KEY, cited_flows, deviating_flow
from mcip.io import write_json
from mcip.prompt import flow_legible
from mcip.prompting import hidden_evidence
from mcip.record import from_row
from mcip.taxonomy import SAFE
from train.data import has_call_labels

STATES = ("legible", "cut to nothing", "omitted")


def state(text: str, n: int) -> str:
    """Whether flow ``n`` is legible in ``text``, shown with its data cut to nothing, or omitted."""
    if flow_legible(text, n):
        return "legible"
    return "cut to nothing" if re.search(rf"^{n}\. ", text, re.M) else "omitted"


def measure(rows, prompter) -> dict:
    """Each unsafe row's deviating flow, by state and by class; rows that name no deviating flow are counted."""
    total, by_class, unnamed = Counter(), {}, 0
    cited = {"unsafe": Counter(), "hard negative": Counter()}  # [all cited flows legible?] per group
    for i, row in enumerate(rows):
        hard = row["source"] == "hard_negative"
        if row["label"] == SAFE and not hard:
            continue  # plain safe logs cite no flow
        traj = from_row(row, f"row {i}")
        prompt = prompter.messages(traj)
        text = prompt[-1]["content"]
        if hard:  # a safe record: no deviating flow, only the flows its rationale cites
            if flows := cited_flows(row["rationale"]):
                cited["hard negative"][all(flow_legible(text, n) for n in flows)] += 1
            continue
        n = deviating_flow(traj)
        if n is None:
            unnamed += 1
            continue
        cited["unsafe"][not hidden_evidence(traj, prompt)] += 1  # what training counts and can drop
        st = state(text, n)
        total[st] += 1
        by_class.setdefault(row["label"], Counter())[st] += 1
    count = sum(total.values())
    share = {s: round(total[s] / max(count, 1), 3) for s in STATES}
    lost = {lb: round(1 - c["legible"] / sum(c.values()), 3) for lb, c in sorted(by_class.items())}
    return {
        "unsafe_records": count,
        "no_deviating_flow_named": unnamed,
        "share": share,
        "lost_by_class": lost,
        "every_cited_flow_legible": {
            g: {"records": sum(c.values()), "share": round(c[True] / max(sum(c.values()), 1), 3)}
            for g, c in cited.items()
        },
    }


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="data/mcip-synth")
    ap.add_argument("--split", default="train")
    ap.add_argument("--recipe", default=DEFAULT_RECIPE)
    ap.add_argument("--n", type=int, default=600, help="the first N records of the split")
    ap.add_argument("--before-floor", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    from datasets import load_from_disk

    rows = load_from_disk(args.data)[args.split]
    rows = rows.select(range(min(args.n, len(rows))))
    if not has_call_labels(rows):
        raise SystemExit(
            f"{args.data}: its records carry no {META_KEY} (built before per-call labels): run `make data` again"
        )
    prompter = recipe_prompter(args.recipe)
    with mock.patch.object(mcip.prompt, "EVIDENCE_FLOOR", args.before_floor):
        before = measure(rows, prompter)
    after = measure(rows, prompter)
    result = {
        "what": "unsafe records whose deviating flow the recipe's rendering shows legible, cut to nothing, omitted",
        "data": f"{args.data} {args.split}, first {len(rows)} records",
        "recipe": args.recipe,
        "command": "python -m benchmarks.evidence_kept " + " ".join(argv),
        f"before (evidence floor {args.before_floor})": before,
        f"now (evidence floor {mcip.prompt.EVIDENCE_FLOOR})": after,
    }
    print(json.dumps(result, indent=1))
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
