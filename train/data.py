"""Dataset side of training: load the splits, re-render the guardian prompts for this model, check label masks.

Prompts are rendered from each row's ``trajectory`` with the core prompt format (``mcip.prompt``), so a recipe
can pick the prompt style and a log budget measured with *this model's* tokenizer (small models want the
compact policy and a tight budget), while data generation stays model-agnostic.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from mcip.calls import META_KEY
from mcip.prompt import PromptFormat, is_truncated
from mcip.prompting import (
    MARGIN,
    ContextError,
    fit_log_budget,
    hidden_evidence,
    template_overhead,
    token_counter,
)
from mcip.record import from_row
from mcip.scoring import common_prefix, encode, render_chat
from mcip.stream import StreamError, chats

# Bump when the tokenized layout changes (columns, label rule); the key covers everything else.
CACHE_VERSION = "2"


class DataError(ValueError):
    pass


def load_splits(name: str, train_split: str, eval_split: str | None):
    """A local ``save_to_disk`` folder or a Hub dataset id, as a DatasetDict holding the two splits."""
    from datasets import DatasetDict, load_dataset, load_from_disk

    if os.path.isdir(name):
        try:
            data = load_from_disk(name)
        except FileNotFoundError as err:
            raise DataError(f"{name}: not a dataset saved with save_to_disk ({err})") from None
    else:
        data = load_dataset(name)
    if not isinstance(data, DatasetDict):
        raise DataError(f"{name}: expected a DatasetDict with splits, got a single Dataset")
    for split in (train_split, eval_split):
        if split and split not in data:
            raise DataError(f"{name}: no split {split!r} (has {', '.join(data)})")
    return data


def render_row(
    row: dict[str, Any],
    index: int,
    fmt: PromptFormat,
    tokenizer,
    overhead: int,
    max_length: int | None,
    where: str,
) -> dict[str, Any]:
    """One TRL prompt-completion pair; the log gets the room ``max_length`` leaves after the template and this
    row's answer (or the format's own bound, if smaller: ``fit_log_budget``, the rule inference uses), so a long
    log is cut by the renderer, never by TRL."""
    traj = from_row(row, f"{where} row {index}")
    completion = fmt.completion(row["label"], row.get("rationale"))
    # the answer's room: its own tokens, the end-of-turn and its newline
    answer = len(encode(tokenizer, completion[0]["content"])) + 2 if max_length else 0
    try:
        log_budget = fit_log_budget(fmt.log_budget, max_length, overhead, answer, least=1)
    except ContextError as err:
        raise DataError(f"{where} row {index}: max_length {max_length}: {err}; raise `max_length`") from None
    prompt = fmt.messages(traj, token_counter(tokenizer), log_budget)
    return {"prompt": prompt, "completion": completion, "hidden_evidence": hidden_evidence(traj, prompt)}


def has_call_labels(split, probe: int = 20) -> bool:
    """Whether a split's records carry per-call labels (``meta.call_labels``; data built before them do not)."""
    for row in split.select(range(min(probe, len(split)))):
        if META_KEY in (json.loads(row["trajectory"]).get("meta") or {}):
            return True
    return False


def prepare(
    split,
    tokenizer,
    fmt: PromptFormat,
    max_length: int | None,
    num_proc: int | None,
    where: str = "dataset",
    fingerprint: str | None = None,
):
    """TRL's prompt-completion form rendered from each row's trajectory with this run's prompt format.

    The dataset's own ``prompt``/``completion`` columns (the data card says which format they hold) are never
    trained on: every recipe renders with its own style, budget and tokenizer here.
    """
    if "trajectory" not in split.column_names or "label" not in split.column_names:
        raise DataError(
            f"{where}: rendering prompts needs the `trajectory` and `label` columns (made by `make data`)"
        )
    return split.map(
        render_row,
        with_indices=True,
        fn_kwargs={
            "fmt": fmt,
            "tokenizer": tokenizer,
            "overhead": template_overhead(tokenizer, fmt.style, relations=fmt.relations),
            "max_length": max_length,
            "where": where,
        },
        remove_columns=split.column_names,
        num_proc=num_proc,
        desc="rendering guardian prompts",
        new_fingerprint=fingerprint,
    )


def stream_rows(
    batch: dict[str, list], indices: list[int], fmt: PromptFormat, tokenizer, room: int | None, where: str
) -> dict[str, list]:
    """Trainer-ready rows of stream-format sessions (``mcip.stream.chats``): a session gives one chat, or a few
    where it outgrows ``room``; every verdict of a chat is labelled (the verdict and its end-of-turn), the
    rest is context. A record without per-call labels is an error naming it: a stream guardian learns them."""
    out: dict[str, list] = {
        "input_ids": [],
        "labels": [],
        "length": [],
        "truncated": [],
        "hidden_evidence": [],
    }
    count = token_counter(tokenizer)
    for j, index in enumerate(indices):
        row = {k: v[j] for k, v in batch.items()}
        traj = from_row(row, f"{where} row {index}")
        labels = (traj.meta or {}).get(META_KEY)
        if labels is None:
            raise DataError(
                f"{where} row {index} ({traj.id}): field meta.{META_KEY}: missing; a stream guardian trains on "
                "per-call labels (made by `make data`; importers add them where the source names the attacker)"
            )
        try:
            verdicts = [p["label"] for p in labels]
            sessions = chats(traj, verdicts, fmt, room, count)
        except StreamError as err:
            raise DataError(f"{where} row {index}: {err}") from None
        for chat in sessions:
            ids, labelled = labelled_chat(chat, tokenizer)
            out["input_ids"].append(ids)
            out["labels"].append(labelled)
            out["length"].append(len(ids))
            out["truncated"].append(len(sessions) > 1 or is_truncated(chat[1]["content"]))
            out["hidden_evidence"].append(False)  # a verdict follows each call, which is shown whole
    return out


def labelled_chat(chat: list[dict[str, str]], tokenizer) -> tuple[list[int], list[int]]:
    """A chat's ids with every assistant turn labelled (its text, end-of-turn and what the template closes the
    turn with, as ``tokenize_row`` labels a completion). The chat is tokenized once; each turn's characters are
    where the text up to its generation prompt ends and the text up to its end ends (the template renders every
    shorter chat as a prefix of the whole, checked), mapped to tokens by the tokenizer's offsets."""
    text = tokenizer.apply_chat_template(chat, tokenize=False)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(enc.input_ids), enc.offset_mapping
    labels = [-100] * len(ids)
    for k, msg in enumerate(chat):
        if msg["role"] != "assistant":
            continue
        asked = render_chat(tokenizer, chat[:k])
        upto = tokenizer.apply_chat_template(chat[: k + 1], tokenize=False)
        if not (text.startswith(upto) and upto.startswith(asked)):
            raise DataError("the chat template does not render a shorter chat as a prefix of a longer one")
        for i, (begin, _end) in enumerate(offsets):
            if len(asked) <= begin < len(upto):
                labels[i] = ids[i]
    return ids, labels


def tokenize_row(row: dict[str, Any], tokenizer) -> dict[str, Any]:
    """Trainer-ready ids, as TRL tokenizes a prompt-completion pair: the completion starts where the templated
    prompt and prompt+completion diverge; only the completion is labelled. ``truncated`` and ``length`` ride along
    for the run's record and the length-grouped sampler."""
    prompt_ids = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True)
    ids = tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=True)
    prompt_ids, ids = _ids(prompt_ids), _ids(ids)
    start = common_prefix([prompt_ids, ids])
    return {
        "input_ids": ids,
        "labels": [-100] * start + ids[start:],
        "length": len(ids),
        "truncated": is_truncated(row["prompt"][-1]["content"]),
        "hidden_evidence": row.get("hidden_evidence", False),
    }


def _ids(out) -> list[int]:
    return list(out["input_ids"] if isinstance(out, dict) or hasattr(out, "keys") else out)


def cache_key(split, tokenizer, fmt: PromptFormat, max_length: int | None) -> str:
    """What a tokenized split depends on: the data (its fingerprint), the format, the tokenizer (vocabulary and
    chat template), the room, and the renderer's code, so an edit to ``mcip`` or this module never reads stale
    prompts."""
    code = hashlib.sha256()
    for module in sorted(Path(__file__).resolve().parents[1].joinpath("mcip").glob("*.py")) + [
        Path(__file__).resolve()
    ]:
        code.update(module.read_bytes())
    tok = hashlib.sha256(
        tokenizer.backend_tokenizer.to_str().encode() if hasattr(tokenizer, "backend_tokenizer") else b""
    )
    tok.update(str(tokenizer.chat_template).encode())
    parts = [
        CACHE_VERSION,
        split._fingerprint,
        json.dumps(fmt.to_dict(), sort_keys=True),
        tok.hexdigest(),
        str(max_length),
        code.hexdigest(),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def cache_dir() -> Path:
    """``$MCIP_CACHE`` or ``$XDG_CACHE_HOME/mcip`` (``~/.cache/mcip``): tokenized splits, reused across runs."""
    if os.environ.get("MCIP_CACHE"):
        return Path(os.environ["MCIP_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mcip"


def prepare_tokenized(
    split, tokenizer, fmt: PromptFormat, max_length: int | None, num_proc: int | None, where: str = "dataset"
):
    """Rendered *and* tokenized once per (data, format, tokenizer, room, code), then read from the cache: a short
    run starts in seconds instead of re-rendering thousands of real-size logs. The cache file is written by
    ``datasets`` to a temporary name and renamed, so a killed run never leaves half a cache."""
    key = cache_key(split, tokenizer, fmt, max_length)
    path = cache_dir() / "prompts" / f"{key}.arrow"
    path.parent.mkdir(parents=True, exist_ok=True)
    rendered_cols = ["input_ids", "labels", "length", "truncated", "hidden_evidence"]
    if path.is_file():
        from datasets import Dataset

        return Dataset.from_file(str(path))
    if fmt.stream:
        room = None
        if max_length:  # the chat and the template's trailing tokens within max_length
            room = max_length - MARGIN
        out = split.map(
            stream_rows,
            batched=True,
            with_indices=True,
            fn_kwargs={"fmt": fmt, "tokenizer": tokenizer, "room": room, "where": where},
            remove_columns=split.column_names,
            num_proc=num_proc,
            desc="rendering and tokenizing stream sessions",
            new_fingerprint=f"{key}-stream",
        )
        return out.select_columns(rendered_cols).flatten_indices(cache_file_name=str(path))
    # datasets caches each map by the mapped function's own code and arguments, not by the renderer it calls: the
    # key (which covers that code) names each step, so an edit to mcip never brings back a stale rendering
    rendered = prepare(split, tokenizer, fmt, max_length, num_proc, where, f"{key}-rendered")
    out = rendered.map(
        tokenize_row,
        fn_kwargs={"tokenizer": tokenizer},
        remove_columns=rendered.column_names,
        num_proc=num_proc,
        desc="tokenizing guardian prompts",
        new_fingerprint=f"{key}-tokenized",
    )
    out = out.select_columns(rendered_cols).flatten_indices(cache_file_name=str(path))
    return out


def truncated_share(prepared) -> float:
    """Share of prompts the renderer cut to fit their room (each prompt says what it cut); recorded per run."""
    if "truncated" in prepared.column_names:
        return round(sum(prepared["truncated"]) / max(len(prepared), 1), 3)
    hits = sum(is_truncated(prompt[-1]["content"]) for prompt in prepared["prompt"])
    return round(hits / max(len(prepared), 1), 3)


def check_fits(prepared, max_length: int | None, split_name: str) -> None:
    """No row may be longer than ``max_length``: truncation would cut the answer and its end-of-turn token (the
    renderer sized the log to fit; a room too small for the policy and the answer ends up here)."""
    if not max_length:
        return
    over = sum(n > max_length for n in prepared["length"])
    if over:
        raise DataError(
            f"{split_name}: {over} example(s) lost the end-of-turn token to truncation (longer than max_length "
            f"{max_length}). Raise `max_length`, or lower `log_budget` so the rendered log fits."
        )


def check_label_masks(
    processed, raw_count: int, end_of_turn_id: int, split_name: str, packed: bool
) -> dict[str, int]:
    """Every example must train on its answer, end-of-turn token included; fail with a clear message if not.

    TRL truncates to ``max_length`` and drops examples left without labels; a completion cut before its
    end-of-turn token would teach the model never to stop. Both are errors here, not silent losses. Packed rows
    hold several examples, so there the end-of-turn tokens under loss are counted instead.
    """
    cut, tokens, ends = 0, 0, 0
    for labels in processed["labels"]:
        trained = [t for t in labels if t != -100]
        tokens += len(trained)
        ends += trained.count(end_of_turn_id)
        if not packed and (not trained or end_of_turn_id not in trained):
            cut += 1
    dropped = raw_count - (ends if packed else len(processed))
    if dropped or cut:
        raise DataError(
            f"{split_name}: {dropped} example(s) lost every answer token and {cut} lost the end-of-turn token to "
            "truncation. Raise `max_length`, or lower `log_budget` so the rendered log fits."
        )
    if tokens == 0:
        raise DataError(
            f"{split_name}: the label mask is empty; the chat template leaves no completion tokens"
        )
    return {"examples": len(processed), "completion_tokens": tokens}
