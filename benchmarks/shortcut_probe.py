"""Shortcut probe: can a bag-of-words classifier tell the labels apart from surface cues alone?

A TF-IDF (words and word pairs) logistic regression is trained on the logs of ``train`` rendered the way a
training recipe renders them (``--recipe``: its prompt style, log budget and tokenizer, through the same
``mcip.prompting.Prompter``), so it reads what a guardian trained with that recipe reads; it is scored on
``test`` and ``test_unseen``. A class it gets near-perfectly is being learnt
from surface cues (a phrase, a tool name, a length): the generator should vary that surface or add hard
negatives. A class it cannot learn needs understanding of the flows. Compare with the majority baseline, and
with the trained guardian in benchmarks/quality.py.

    python -m benchmarks.shortcut_probe --data data/mcip-synth [--recipe recipes/smollm2-135m/full_gpu.yaml] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mcip.io import write_json
from mcip.record import from_row
from mcip.taxonomy import LABEL_STRINGS, LABELS, SAFE

DEFAULT_RECIPE = "recipes/smollm2-135m/lora_cpu.yaml"

SURFACE = 0.95  # per-class F1 above this on test_unseen means the class is learnable from surface cues


def recipe_prompter(recipe: str = DEFAULT_RECIPE, relations: bool | None = None):
    """The Prompter a training recipe's model renders with: its style and budget, its tokenizer, its max_length
    (``relations``, when given, overrides the recipe's, as ``--relations`` does on its training command)."""
    import yaml
    from transformers import AutoTokenizer

    from mcip.prompt import PromptFormat
    from mcip.prompting import Prompter

    cfg = yaml.safe_load(Path(recipe).read_text())
    fmt = PromptFormat(
        cfg.get("prompt_style") or "full",
        cfg.get("log_budget"),
        bool(cfg.get("rationale", True)),
        relations=bool(cfg.get("relations", False)) if relations is None else relations,
    )
    tokenizer = AutoTokenizer.from_pretrained(cfg["model_name_or_path"])
    return Prompter.for_model(tokenizer, fmt, cfg.get("max_length"))


def texts(split, prompter) -> list[str]:
    """The user message the guardian reads, rendered from each row's trajectory (never the stored column)."""
    return [prompter.messages(from_row(row, f"row {i}"))[-1]["content"] for i, row in enumerate(split)]


def fit(texts_: list[str], labels: list[str]):
    """The probe: TF-IDF over words and word pairs of the rendered logs, then logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(
        ngram_range=(1, 2),
        min_df=2,
        max_features=300_000,
        sublinear_tf=True,
        token_pattern=r"[A-Za-z_][A-Za-z0-9_.\-]+",
    )
    clf = LogisticRegression(max_iter=3000, C=4.0).fit(vec.fit_transform(texts_), labels)
    return vec, clf


def prediction_scores(truth: list[str], pred: list[str], p_unsafe: list[float]) -> dict:
    """A reader's headline scores from its labels and P(unsafe): the metrics every guardian is scored with
    (``train.metrics``), and how well P(unsafe) ranks attacks above safe logs (AUROC, as ``benchmarks.calibration``
    reports a guardian's). Shared with ``benchmarks.hidden_probe``."""
    from sklearn.metrics import roc_auc_score

    from train.metrics import Prediction, compute_metrics

    m = compute_metrics([Prediction(str(i), t, p, p != SAFE) for i, (t, p) in enumerate(zip(truth, pred))])
    return {
        "n": m["n"],
        "accuracy": round(m["risk_resistance"]["accuracy"], 4),
        "macro_f1": round(m["risk_resistance"]["macro_f1"], 4),
        "binary_macro_f1": round(m["safety_awareness"]["macro_f1"], 4),
        "auroc": round(roc_auc_score([t != SAFE for t in truth], p_unsafe), 4),
        "per_class_f1": {lb: round(m["per_class"][lb]["f1"], 4) for lb in LABEL_STRINGS},
    }


def scores(truth: list[str], vec, clf, texts_: list[str]) -> dict:
    """The probe's scores on rendered logs ``texts_`` (``prediction_scores``)."""
    x = vec.transform(texts_)
    p_unsafe = 1 - clf.predict_proba(x)[:, list(clf.classes_).index(SAFE)]
    return prediction_scores(truth, list(clf.predict(x)), list(p_unsafe))


def probe(
    data_dir: str,
    max_train: int | None = None,
    seed: int = 0,
    recipe: str = DEFAULT_RECIPE,
    curve: list[int] | None = None,
    eval_n: int | None = None,
    relations: bool | None = None,
) -> dict:
    """The probe on ``test`` and ``test_unseen`` (``eval_n`` seeded items of each when given). With ``curve``, it
    is fitted on the first n shuffled ``train`` logs for each n (the logs rendered once), which says how many
    examples a simple learner needs on this data: a reference for a guardian's learning curve at equal examples."""
    from datasets import load_from_disk

    data = load_from_disk(data_dir)
    train = data["train"].shuffle(seed=seed)
    sizes = sorted(curve) if curve else [min(max_train or len(train), len(train))]
    if sizes[-1] > len(train):
        raise SystemExit(f"shortcut_probe: {data_dir} has {len(train)} train records, fewer than {sizes[-1]}")
    train = train.select(range(sizes[-1]))
    prompter = recipe_prompter(recipe, relations)
    start = time.perf_counter()
    train_texts, labels = texts(train, prompter), train["label"]
    evals = {}
    for name in ("test", "test_unseen"):
        if name in data:
            split = data[name]
            if eval_n is not None and eval_n < len(split):
                split = split.shuffle(seed=seed).select(range(eval_n))
            evals[name] = (texts(split, prompter), split["label"])
    points = {}
    for n in sizes:
        vec, clf = fit(train_texts[:n], labels[:n])
        points[n] = {name: scores(truth, vec, clf, x) for name, (x, truth) in evals.items()}
    out = {
        "train_n": sizes[-1],
        "recipe": recipe,
        "relations": prompter.fmt.relations,
        "data": data_dir,
        "seconds": round(time.perf_counter() - start, 1),
    }
    if curve:
        out["curve"] = {str(n): {name: s["macro_f1"] for name, s in pts.items()} for n, pts in points.items()}
    out["splits"] = points[sizes[-1]]
    return out


def print_table(result: dict) -> None:
    splits = list(result["splits"])
    print(
        f"shortcut probe: TF-IDF + logistic regression on {result['train_n']} train logs "
        f"({result['seconds']} s)\n"
    )
    print("| label | " + " | ".join(f"F1 {s}" for s in splits) + " |")
    print("|---|" + "---|" * len(splits))
    for lb in LABELS:
        cells = [result["splits"][s]["per_class_f1"][lb.string] for s in splits]
        flag = " (surface-learnable)" if cells[-1] > SURFACE else ""
        print(f"| {lb.choice}{flag} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    for key in ("accuracy", "macro_f1", "binary_macro_f1", "auroc"):
        print(f"| **{key}** | " + " | ".join(f"{result['splits'][s][key]:.3f}" for s in splits) + " |")
    if "curve" in result:
        print("\n| train logs | " + " | ".join(f"macro-F1 {s}" for s in splits) + " |")
        print("|---|" + "---|" * len(splits))
        for n, row in result["curve"].items():
            print(f"| {n} | " + " | ".join(f"{row[s]:.3f}" for s in splits) + " |")


def add_relations_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """``--relations true|false``: render with or without the call relations lines; unset, as the model says."""
    parser.add_argument("--relations", choices=("true", "false"), default=None, help=help)


def relations_choice(args: argparse.Namespace) -> bool | None:
    return None if args.relations is None else args.relations == "true"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="data/mcip-synth")
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--recipe", default=DEFAULT_RECIPE, help="render logs as this training recipe does")
    parser.add_argument(
        "--curve",
        default=None,
        help="comma-separated train sizes (e.g. 1000,2000,4000,6000): macro-F1 at each, the logs rendered once",
    )
    parser.add_argument(
        "--eval-n", type=int, default=None, help="seeded items of each test split (default all)"
    )
    add_relations_argument(
        parser, "render with (or without) the call relations lines (mcip.relations), whatever the recipe says"
    )
    parser.add_argument("--json", default=None, help="also write the result here")
    args = parser.parse_args()
    curve = [int(n) for n in args.curve.split(",")] if args.curve else None
    result = probe(
        args.data,
        args.max_train,
        recipe=args.recipe,
        curve=curve,
        eval_n=args.eval_n,
        relations=relations_choice(args),
    )
    print_table(result)
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
