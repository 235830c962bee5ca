"""Hidden-state probe: does the guardian's own reading of a log hold the verdict, where its answer does not?

The CPU guardian's answer stays near the label prior (training loss at the prior's entropy for most of a run), yet
a bag-of-words probe on the same rendered logs names the risk far better (``benchmarks.shortcut_probe``). This
probe asks which side is short: the model's representation, or the way fine-tuning reads it out. It runs the
guardian (or any model folder) once over each prompt exactly as the guardian reads it (its saved format, chat
template, log budget), keeps three views of its hidden states (the last prompt position of the last layer, where
the answer starts; the mean over the prompt of the last layer; the mean of the middle layer), fits a logistic
regression on each from ``train``, and scores ``test_unseen`` with the metrics every guardian is scored with,
beside the TF-IDF probe fitted on the same logs and the majority baseline.

    python -m benchmarks.hidden_probe --model guardians/smollm2-135m-mcip-cpu --data data/mcip-short \
        --max-train 1200 --eval-n 400 [--relations true] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import time

from benchmarks.shortcut_probe import add_relations_argument, prediction_scores, relations_choice, scores
from benchmarks.shortcut_probe import fit as fit_tfidf
from mcip.io import write_json
from mcip.record import from_row
from mcip.taxonomy import SAFE

VIEWS = ("last_token", "mean_last_layer", "mean_middle_layer")


def features(guardian, prompts, progress: str = "") -> dict[str, list]:
    """Each view's feature vector per prompt (as ``guardian.prompt`` renders a log), from one forward pass each."""
    import torch

    from mcip.scoring import encode, render_chat

    model, tok = guardian.backend.model, guardian.tokenizer
    device = next(model.parameters()).device
    out: dict[str, list] = {v: [] for v in VIEWS}
    start = time.perf_counter()
    for i, prompt in enumerate(prompts):
        ids = torch.tensor([encode(tok, render_chat(tok, prompt))], device=device)
        with torch.inference_mode():
            hidden = model(input_ids=ids, output_hidden_states=True).hidden_states
        last, middle = hidden[-1][0].float(), hidden[len(hidden) // 2][0].float()
        out["last_token"].append(last[-1].cpu().numpy())
        out["mean_last_layer"].append(last.mean(0).cpu().numpy())
        out["mean_middle_layer"].append(middle.mean(0).cpu().numpy())
        if progress and (i + 1) % 200 == 0:
            rate = (time.perf_counter() - start) / (i + 1)
            print(f"{progress}: {i + 1}/{len(prompts)} logs, {rate:.2f} s each", file=sys.stderr, flush=True)
    return out


def _fit_predict(x_train, y_train, x_test) -> tuple[list[str], list[float]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.05)).fit(x_train, y_train)
    probs = clf.predict_proba(x_test)
    safe = list(clf.classes_).index(SAFE)
    return list(clf.predict(x_test)), [1 - p[safe] for p in probs]


def probe(
    model: str,
    data_dir: str,
    max_train: int,
    eval_n: int,
    split: str = "test_unseen",
    relations: bool | None = None,
    seed: int = 0,
) -> dict:
    from collections import Counter
    from dataclasses import replace

    from datasets import load_from_disk

    from mcip.guardian import load_guardian

    guardian = load_guardian(model, progress=False, calibrate=False)
    if guardian.fmt.stream:
        raise SystemExit(
            f"error: {model} is a stream guardian: this probe reads a one-shot guardian's answer"
        )
    data = load_from_disk(data_dir)
    train = data["train"].shuffle(seed=seed).select(range(min(max_train, len(data["train"]))))
    test = data[split].shuffle(seed=seed).select(range(min(eval_n, len(data[split]))))
    if relations is not None:
        prompter = guardian.prompter
        guardian = replace(
            guardian, prompter=replace(prompter, fmt=replace(prompter.fmt, relations=relations))
        )
    prompts = {  # rendered once: the hidden states and the TF-IDF probe read the same prompts
        name: [guardian.prompt(from_row(row, f"{data_dir} {name} row {i}")) for i, row in enumerate(part)]
        for name, part in (("train", train), (split, test))
    }
    labels = {"train": train["label"], split: test["label"]}
    start = time.perf_counter()
    feats = {name: features(guardian, p, f"hidden_probe {name}") for name, p in prompts.items()}
    seconds = time.perf_counter() - start
    result: dict = {
        "model": model,
        "data": data_dir,
        "split": split,
        "train_n": len(train),
        "eval_n": len(test),
        "relations": guardian.fmt.relations,
        "log_budget": guardian.fmt.log_budget,
        "forward_seconds_per_log": round(seconds / (len(train) + len(test)), 3),
        "views": {},
    }
    for view in VIEWS:
        pred, p = _fit_predict(feats["train"][view], labels["train"], feats[split][view])
        result["views"][view] = prediction_scores(labels[split], pred, p)
    texts = {name: [m[-1]["content"] for m in p] for name, p in prompts.items()}
    vec, clf = fit_tfidf(texts["train"], labels["train"])
    result["tfidf_same_logs"] = scores(labels[split], vec, clf, texts[split])
    majority = Counter(labels["train"]).most_common(1)[0][0]
    result["majority"] = prediction_scores(labels[split], [majority] * len(test), [0.5] * len(test))
    return result


def print_table(r: dict) -> None:
    print(
        f"hidden-state probe: {r['model']} on {r['data']} ({r['train_n']} train logs, {r['eval_n']} {r['split']}, "
        f"relations {r['relations']}, {r['forward_seconds_per_log']} s per forward)\n"
    )
    print("| reader | RR macro-F1 | SA macro-F1 | AUROC |")
    print("|---|---|---|---|")
    rows = [*((f"hidden states: {v}", s) for v, s in r["views"].items())]
    rows += [("TF-IDF probe, same logs", r["tfidf_same_logs"]), ("majority", r["majority"])]
    for name, s in rows:
        print(f"| {name} | {s['macro_f1']:.3f} | {s['binary_macro_f1']:.3f} | {s['auroc']:.3f} |")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="guardians/smollm2-135m-mcip-cpu")
    parser.add_argument("--data", default="data/mcip-short")
    parser.add_argument("--split", default="test_unseen")
    parser.add_argument("--max-train", type=int, default=1200)
    parser.add_argument("--eval-n", type=int, default=400)
    add_relations_argument(
        parser, "render with (or without) the relations lines, whatever the saved format says"
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    result = probe(args.model, args.data, args.max_train, args.eval_n, args.split, relations_choice(args))
    print_table(result)
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
