"""The dataset card (README.md with Hub YAML metadata), rendered from the recipe and the build statistics."""

from __future__ import annotations

import yaml

from data_gen.catalogue import Catalogue
from data_gen.recipe import SPLITS, DataRecipe
from mcip.prompt import format_answer
from mcip.taxonomy import LABELS, markdown_table


def _size_category(n: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return name
    return "n>1M"


SESSIONS_NOTE = """
**Sessions at real size.** Most labelled episodes sit at a random turn of a longer session (`data_gen/sessions.py`):
the agent is connected to several servers and sees their whole tool lists (a few to 60+ tools), tools carry
real-length documentation (usage notes, parameter docs, enums, JSON examples; `data_gen/longform.py`), the other
turns are benign requests on the same or other servers (some following up on a value an earlier turn used or
returned), a share of results are long listings or documents, and some calls fail once and are retried. About a
quarter of records stay short (one request, a handful of tools). The deviating flow can sit at any turn. Shape of
the default recipe's `test_unseen` beside 70 real MCP servers (LiveMCPBench `tools.json`), SmolLM2 tokens,
median / p90 / max (`python benchmarks/session_stats.py --data <dataset>`):

| | before sessions | default recipe | real MCP servers |
|---|---|---|---|
| tool description tokens | 25 / 38 / 56 | 40 / 161 / 423 | 15 / 142 / 960 |
| input schema tokens | 45 / 74 / 112 | 53 / 122 / 239 | 75 / 273 / 2,276 |
| tools listed per record | 5 / 7 / 12 | 21 / 49 / 68 | every tool of every connected server |
| user turns per record (multi-turn share) | 1 / 1 / 2 (2%) | 1 / 4 / 7 (46%) | several |
| rendered compact log tokens | 430 / 692 / 1,095 | 2,554 / 5,947 / 11,770 | thousands; over 10,000 is not rare |
"""


def render_card(recipe: DataRecipe, summary: dict, cat: Catalogue) -> str:
    splits = [s for s in SPLITS if s in summary]
    total = sum(summary[s]["n"] for s in splits)
    front = {
        "license": "apache-2.0",
        "language": ["en"],
        "pretty_name": f"{recipe.name}: synthetic MCP guardian data (MCIP taxonomy)",
        "task_categories": ["text-classification", "text-generation"],
        "tags": ["mcp", "agent-safety", "guardian", "mcip", "tool-use", "synthetic"],
        "size_categories": [_size_category(total)],
        "configs": [
            {"config_name": "default", "data_files": [{"split": s, "path": f"data/{s}-*"} for s in splits]}
        ],
    }
    head = ["| label | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    rows = [
        f"| {lb.choice} (`{lb.string}`) | "
        + " | ".join(str(summary[s]["labels"].get(lb.string, 0)) for s in splits)
        + " |"
        for lb in LABELS
    ]
    totals = "| **total** | " + " | ".join(str(summary[s]["n"]) for s in splits) + " |"
    diversity_keys = (
        "distinct_intents",
        "distinct_phrasings",
        "distinct_called_tools",
        "distinct_servers",
        "proposed_call",
        "flows_mean",
        "flows_max",
        "tools_listed_median",
        "tools_listed_max",
        "multi_turn_share",
        "user_turns_max",
    )
    diversity = ["| figure | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    diversity += [
        f"| {k.replace('_', ' ')} | " + " | ".join(str(summary[s].get(k, "-")) for s in splits) + " |"
        for k in diversity_keys
    ]
    kinds = sorted({k for s in splits for k in summary[s]["kinds"]})
    kind_rows = ["| kind | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    kind_rows += [
        f"| {k} | " + " | ".join(str(summary[s]["kinds"].get(k, 0)) for s in splits) + " |" for k in kinds
    ]
    regular = [s for s, spec in cat.servers.items() if not spec.shadow]
    body = f"""
# {recipe.name}

Synthetic, labelled MCP (Model Context Protocol) agent interaction logs for training **guardian models**
that flag unsafe agent behaviour. Labels follow the MCIP paper (Jing et al., EMNLP 2025,
[arXiv 2505.14590](https://arxiv.org/abs/2505.14590)), with its dataset strings and A-K choices, so results can
be reported in the paper's protocol.

## Labels

{markdown_table()}

## Splits

{chr(10).join(head + rows + [totals])}

`test_unseen` holds only servers and tools that never appear in the other splits (held out:
{", ".join(f"`{s}`" for s in recipe.holdout_servers) or "none"}, plus the look-alike servers that imitate them):
it measures generalisation to unseen tools, the paper guardian's weakest point.

### Record kinds

Hard negatives are safe logs that share the surface of an attack (an ignored injected instruction, a listed
look-alike or admin tool that is not used, a legitimate repeat or prerequisite, a verified identity claim).

{chr(10).join(kind_rows)}

### Diversity

{chr(10).join(diversity)}

## Columns

- `id`: `mcip-` + a hash of the rendered log (no two rows share one, across all splits).
- `label` (MCIP dataset string), `binary` (`safe`/`unsafe`), `kind` (the transform or hard-negative kind),
  `source` (`synthetic`, `hard_negative`, `imported`), `proposed_call` (the log ends with a call awaiting review),
  `servers`, `intent`, `rationale`.
- `trajectory`: the interchange record as JSON: `tools` (MCP tools/list entries with server and privilege),
  OpenAI-style `messages` with `tool_calls` and tool results, `label`, the derived MCI `flows`, `meta`.
  `meta.call_labels` labels every tool call and every assistant answer in message order (`mcip/calls.py`): the
  positions before the deviating one are `true`, the deviating call (or, for Data Injection, the deviating
  answer) carries the record's label, and what follows is judged on its own merit (`true`: each transform changes
  one position). The record's `label` is the first unsafe position's. Records built before this field existed
  are otherwise byte-identical for the same seed.
- `prompt` / `completion`: the guardian SFT pair in TRL's conversational prompt-completion form, rendered with
  the `{recipe.prompt_style}` prompt style{f" and a budget of about {recipe.log_budget} tokens for the log (estimated at 3 characters a token; a longer log is cut by what the verdict depends on, and the prompt says so)" if recipe.log_budget else ""}.
  They are for training on the dataset as it is (e.g. with TRL's `SFTTrainer`); this project's `train.sft` never
  reads them: it renders each recipe's own format from `trajectory`, counted with that model's tokenizer.
  Since the renderer keeps 120 characters of every request and argument while it omits old flows (instead of
  cutting them all to nothing first), the `prompt` of a cut log differs from that of data built before; every
  other column is byte-identical for the same seed.
  A target answer looks like:

```
{format_answer("function_injection", "Flow 5 calls mail.send_email after files.read_file finished, although the user never asked for it.")}
```

## How it was made

`python -m data_gen --config <recipe>` with seed {recipe.seed}: {"a built-in" if recipe.builtin_servers else "an imported"} catalogue of {len(regular)} MCP servers
({len(cat.servers) - len(regular)} more are look-alike "shadow" servers), {len(cat.tools)} tools and
{len(cat.intents)} user intents; each benign scenario samples slot values, plans 1-4 calls whose results feed later
calls, simulates schema-conformant results and writes the answer. One transform per risk label edits a benign
log into its unsafe variant (and names the deviating flow in the rationale); hard negatives make safe variants
with the same surface. {int(recipe.proposed_call_share * 100)}% of logs end at the call under review, as when a
guard checks each call before it runs.
{SESSIONS_NOTE if recipe.sessions else ""}
Recipe:

```yaml
{yaml.safe_dump(recipe.to_dict(), sort_keys=True).strip()}
```

## Limitations

All data is synthetic and template-based (with optional LLM rewriting); it covers the Interaction phase of the
MCIP taxonomy only (no Config or Termination attacks); tool results are simulated from schemas.
"""
    return "---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n" + body
