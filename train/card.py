"""The exported guardian's model card: Hub metadata (model-index from metrics.json) and a body from the template.

The card is rendered from ``train/templates/model_card.md`` by ``huggingface_hub.ModelCard.from_template``
and never edited by hand, so re-exporting with new metrics regenerates it. Model-index values are copied from
metrics.json unrounded: what the Hub shows is exactly what evaluation wrote.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mcip.examples import bmi_example
from mcip.prompt import PromptFormat, format_answer
from mcip.prompting import token_counter
from mcip.taxonomy import markdown_table
from train.markdown import METRICS, fence, is_number, lookup, pct, printable

TEMPLATE = Path(__file__).parent / "templates" / "model_card.md"
TAGS = ["mcp", "guardian", "safety", "mcip", "agent-safety", "tool-use", "guard-model"]

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# Key names whose values must never reach a card, and the shape of a Hugging Face token.
_SECRET_KEY = re.compile(
    r"secret|passw|api_?key|credential|^(hub_|hf_|auth_|access_|api_)?token$", re.IGNORECASE
)
_SECRET_VALUE = re.compile(r"^hf_[A-Za-z0-9]{20,}$")


def hub_id(*candidates: Any) -> str | None:
    """The first candidate shaped like a Hub repo id that is not a local path (the Hub rejects paths)."""
    for c in candidates:
        if isinstance(c, str) and _HUB_ID.match(c) and not Path(c).exists():
            return c
    return None


def data_name(value: Any) -> str:
    """metrics.json's ``data`` is a path, a name or a dict with one of them; the card shows a short name."""
    if isinstance(value, dict):
        value = value.get("name") or value.get("path") or value.get("dataset")
    return Path(str(value)).name if value else "MCIP synthetic"


def _task(m: dict) -> str:
    detail = ", ".join(x for x in (m.get("protocol") and f"{m['protocol']} protocol", m.get("mode")) if x)
    return f"MCP interaction safety ({detail})" if detail else "MCP interaction safety"


def eval_results(metrics: list[dict], dataset_id: str | None):
    """One model-index result per metrics file (task + dataset + split), its metrics typed and named."""
    from huggingface_hub import EvalResult

    results, seen = [], set()
    for m in metrics:
        task, name, split = _task(m), data_name(m.get("data")), m.get("split")
        if (task, name, split) in seen:
            raise ValueError(
                f"two metrics files describe the same task, data and split: {task}, {name}, {split}"
            )
        seen.add((task, name, split))
        for path, kind, display in METRICS:
            value = lookup(m, path)
            if is_number(value):
                results.append(
                    EvalResult(
                        task_type="text-classification",
                        task_name=task,
                        dataset_type=dataset_id or name,
                        dataset_name=name,
                        dataset_split=split,
                        metric_type=kind,
                        metric_name=display,
                        metric_value=value,
                    )
                )
    return results


def eval_rows(metrics: list[dict]) -> list[dict]:
    """Table rows in %: each metrics file, then the baselines evaluation scored on the same items."""
    rows = []
    for m in metrics:
        common = {"split": m.get("split") or "-", "protocol": m.get("protocol") or "-", "n": m.get("n", "-")}
        common["data"] = data_name(m.get("data"))
        row = {**common, "answers": "this model", **{path: pct(lookup(m, path)) for path, _, _ in METRICS}}
        per_class = m.get("per_class")
        if isinstance(per_class, dict) and all(isinstance(v, dict) for v in per_class.values()):
            cols = [
                c for c in ("precision", "recall", "f1", "support") if any(c in v for v in per_class.values())
            ]
            row["per_class_cols"] = cols
            row["per_class"] = [
                (label, [pct(v.get(c)) if c != "support" else v.get(c, "-") for c in cols])
                for label, v in per_class.items()
            ]
        rows.append(row)
        for name, base in (m.get("baselines") or {}).items():
            if isinstance(base, dict):
                cells = {path: pct(lookup(base, path)) for path, _, _ in METRICS}
                rows.append({**common, "answers": f"baseline: {name}", **cells})
    return rows


def training_rows(meta: dict, limit: int = 60) -> list[tuple[str, str]]:
    """mcip_run.json flattened to (key, value) rows; secrets are redacted whatever the run recorded."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
            return
        if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
            value = ", ".join(map(str, value))
        if isinstance(value, (dict, list)):
            return
        secret = _SECRET_KEY.search(prefix.rsplit(".", 1)[-1]) or _SECRET_VALUE.match(str(value))
        text = "<redacted>" if secret else str(_short(value))
        rows.append((prefix, text if len(text) <= 100 else text[:97] + "..."))

    walk("", meta)
    return rows[:limit]


def _short(value: Any) -> Any:
    """Absolute paths shrink to their last component: a card should not publish the trainer's file system."""
    return Path(value).name if isinstance(value, str) and value.startswith("/") else value


def render_model_card(
    folder: Path,
    *,
    model_name: str,
    run_meta: dict,
    metrics: list[dict],
    base_model_id: str | None = None,
    dataset_id: str | None = None,
    license: str = "apache-2.0",
) -> str:
    """The card for the export in ``folder`` (reads its verification.json, mcip_prompt.json and tokenizer)."""
    from huggingface_hub import ModelCard, ModelCardData, get_token
    from transformers import AutoTokenizer

    verification = json.loads((folder / "verification.json").read_text(encoding="utf-8"))
    prompt_cfg = verification["prompt"]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    source = verification["source"]
    base_id = hub_id(
        base_model_id, run_meta.get("base_model_id"), run_meta.get("base_model"), source["base_model"]
    )
    ds_id = hub_id(dataset_id, run_meta.get("dataset_id"))  # data paths look like repo ids: explicit ids only

    fmt = PromptFormat.from_dict(prompt_cfg)
    system, user = fmt.messages(bmi_example(unsafe=True), token_counter(tokenizer))
    card_data = ModelCardData(
        language="en",
        license=license,
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=TAGS,
        base_model=base_id,
        datasets=[ds_id] if ds_id else None,
        model_name=model_name if metrics else None,
        eval_results=eval_results(metrics, ds_id) if metrics else None,
    )
    card = ModelCard.from_template(
        card_data,
        template_path=str(TEMPLATE),
        model_name=model_name,
        base_model=base_id or _short(source["base_model"]) or "(unknown)",
        source=source,
        dtype=verification["dtype"],
        label_table=markdown_table(),
        style=fmt.style,
        log_budget=fmt.log_budget,
        system_block=fence(system["content"], "text"),
        user_block=fence(user["content"], "text"),
        answer_block=fence(
            format_answer(
                "function_injection", "flow 5 shares the health record, which the user never asked for."
            ),
            "text",
        ),
        eot=verification["end_of_turn"]["token"],
        verdict_ids=verification["verdict_token_ids"],
        verification=verification,
        greedy=[
            dict(e, block=fence(printable(e["greedy_text"]) or "(empty)", "text"))
            for e in verification["examples"]
        ],
        training=training_rows(run_meta),
        recipe=run_meta.get("recipe"),
        dataset=ds_id or _short(run_meta.get("dataset_name") or run_meta.get("dataset")),
        evals=eval_rows(metrics),
    )
    text = str(card)
    token = get_token()
    return text.replace(token, "<redacted>") if token else text


def load_metrics(paths: list[str]) -> list[dict]:
    metrics = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: cannot read metrics ({err})") from err
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object of metrics")
        metrics.append(data)
    return metrics


def write_model_card(folder: Path, **kwargs: Any) -> Path:
    """Render the card into ``folder/README.md`` and check it reads back as the Hub will read it."""
    from huggingface_hub import ModelCard

    readme = folder / "README.md"
    readme.write_text(render_model_card(folder, **kwargs), encoding="utf-8")
    ModelCard.load(readme)  # raises on front matter the Hub would reject as unparsable
    return readme
