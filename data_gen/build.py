"""Build a dataset from a recipe: benign scenarios -> attack transforms / hard negatives -> SFT pairs.

Every record is a function of (seed, split, index) alone, so generation parallelises across processes and
the same recipe gives byte-identical output. Servers listed in ``holdout_servers`` (and the shadow servers that
imitate them) feed only ``test_unseen``: its tools never appear in the other splits.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

from tqdm import tqdm

from data_gen.catalogue import Catalogue, IntentSpec, builtin_catalogue, load_catalogue
from data_gen.edit import Variant, call_sites
from data_gen.recipe import SPLITS, DataRecipe
from data_gen.registry import ATTACKS, NEGATIVES
from data_gen.scenarios import SAFE_RATIONALE, benign, generic_intent
from data_gen.sessions import realise
from mcip.calls import META_KEY as CALL_LABELS
from mcip.calls import CallLabelError, per_call_labels
from mcip.flows import derive_flows, ends_with_proposed_call
from mcip.io import atomic_dir, atomic_write
from mcip.prompt import build_completion, build_prompt
from mcip.record import Flow, Trajectory, load_jsonl, not_gold
from mcip.taxonomy import binary

MAX_TRIES = 60
CHUNK = 250


class GenerationError(RuntimeError):
    pass


# -- the two sides of the split ------------------------------------------------------------------------------------


@dataclass
class Side:
    """What one side of the split may use: its catalogue view, intents and gold bases."""

    name: str
    cat: Catalogue
    intents: list[IntentSpec]
    gold: list[Trajectory] = field(default_factory=list)
    _wanted: dict[Any, list[IntentSpec]] = field(default_factory=dict)

    def intents_for(self, wants) -> list[IntentSpec]:
        if wants is None:
            return self.intents
        if wants not in self._wanted:
            self._wanted[wants] = [i for i in self.intents if wants(i, self.cat)]
        return self._wanted[wants]


def _side(name: str, cat: Catalogue, servers: set[str], gold: list[Trajectory]) -> Side:
    view = cat.restrict(servers)
    intents = [i for i in view.intents if cat.intent_servers(i) <= servers]
    for spec in view.servers.values():
        if not spec.shadow and not spec.intents:  # imported servers: one generic intent per non-admin tool
            intents += [generic_intent(t) for t in spec.tools if t.privilege != "admin"]
    return Side(name, view, intents, gold)


def make_sides(cat: Catalogue, recipe: DataRecipe, gold: list[Trajectory]) -> dict[str, Side]:
    holdout = set(recipe.holdout_servers)
    unknown = sorted(holdout - set(cat.servers))
    if unknown:
        raise GenerationError(f"holdout_servers: unknown server(s) {unknown}")
    unseen = set(holdout)
    for name, spec in cat.servers.items():
        targets = {t.lookalike_of.split(".")[0] for t in spec.tools if t.lookalike_of}
        if spec.shadow and targets & holdout:
            unseen.add(name)
    seen = set(cat.servers) - unseen
    sides = {"seen": _side("seen", cat, seen, gold)}
    if holdout:
        sides["unseen"] = _side("unseen", cat, unseen, [])
    for side in sides.values():
        if not side.intents:
            raise GenerationError(f"the {side.name} side has no intents; check holdout_servers")
    return sides


def side_of(split: str) -> str:
    return "unseen" if split == "test_unseen" else "seen"


# -- one record ------------------------------------------------------------------------------------------------------


def _choose_label(weights: dict[str, float], rng: Random) -> str:
    labels = sorted(weights)
    return rng.choices(labels, [weights[lb] for lb in labels])[0]


def _base(side: Side, rng: Random, wants, recipe: DataRecipe, rewriter=None) -> Variant:
    if side.gold and wants is None and rng.random() < recipe.gold_share:
        traj = rng.choice(side.gold)
        return Variant(traj, "true", "gold", rationale=SAFE_RATIONALE)
    intents = side.intents_for(wants)
    if not intents:
        raise GenerationError(
            f"no intent on the {side.name} side suits {getattr(wants, '__module__', wants)}"
        )
    variant = benign(rng.choice(intents), side.cat, rng)
    if recipe.rewrite.enabled and rng.random() < recipe.rewrite.share:  # before any transform: labels never
        variant.traj = rewriter.rewrite(variant.traj)  # depend on it
    return variant


def _attempt(label: str, side: Side, recipe: DataRecipe, rng: Random, rewriter=None) -> Variant | None:
    if label == "true":
        if rng.random() >= recipe.hard_negative_share:
            return _base(side, rng, None, recipe, rewriter)
        kinds = sorted(NEGATIVES)
        transform = NEGATIVES[rng.choices(kinds, [NEGATIVES[k].weight for k in kinds])[0]]
    else:
        transform = ATTACKS[label]
    base = _base(side, rng, transform.wants, recipe, rewriter)
    return transform.apply(base.traj, side.cat, rng)


def _truncate(variant: Variant, rng: Random) -> Variant:
    """Cut the log right after the call under review: the guard sees the proposed call before it runs."""
    traj = variant.traj
    if variant.label == "true":
        sites = call_sites(traj)
        if not sites:
            return variant
        site = rng.choice(sites)
        index, call_id = site.index, site.call.id
    elif variant.can_truncate and variant.focus_call:
        index, call_id = variant.focus, variant.focus_call
    else:
        return variant
    msg = traj.messages[index]
    kept = []
    for c in msg.tool_calls or ():
        kept.append(c)
        if c.id == call_id:
            break
    messages = [*traj.messages[:index], msg.model_copy(update={"tool_calls": kept})]
    return Variant(
        traj.model_copy(update={"messages": messages}),
        variant.label,
        variant.kind,
        index,
        call_id,
        variant.rationale,
        variant.can_truncate,
        {**variant.details, "truncated": True},
    )


_PLACEHOLDER = re.compile(r"\{(flow|call|result|message)(?::([^}]+))?\}")


def resolve_rationale(text: str, flows: list[Flow], focus: int | None, focus_call: str | None) -> str | None:
    """Fill ``{flow}``, ``{call:id}``, ``{result:id}``, ``{message:i}`` with flow numbers; None if one is gone."""

    def number(kind: str, arg: str | None) -> int | None:
        for n, f in enumerate(flows, 1):
            if kind == "flow" and focus_call and f.call_id == focus_call and f.sender == "assistant":
                return n
            if kind == "flow" and not focus_call and f.message == focus:
                return n
            if kind == "call" and f.call_id == arg and f.sender == "assistant":
                return n
            if kind == "result" and f.call_id == arg and f.sender != "assistant":
                return n
            if kind == "message" and arg is not None and f.message == int(arg):
                return n
        return None

    missing = False

    def sub(m: re.Match) -> str:
        nonlocal missing
        n = number(m.group(1), m.group(2))
        missing = missing or n is None
        return str(n)

    out = _PLACEHOLDER.sub(sub, text)
    return None if missing else out


def record_id(traj: Trajectory) -> str:
    """The id of a record: a digest of its canonical log (tools, messages, label), not of any rendering, so it
    does not change with a prompt style or budget; equal logs get equal ids, which is how splits are deduplicated."""
    return _digest(traj.model_dump(mode="json", exclude_none=True, include=set(_CANONICAL)))


_CANONICAL = ("tools", "messages", "label")


def _digest(dumped: dict[str, Any]) -> str:
    """``record_id`` of a trajectory dumped whole (``model_dump(mode="json", exclude_none=True)``)."""
    canonical = {k: dumped[k] for k in _CANONICAL if k in dumped}
    text = json.dumps(canonical, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "mcip-" + hashlib.sha1(text.encode()).hexdigest()[:16]


def finalize(variant: Variant, recipe: DataRecipe, split: str) -> dict[str, Any]:
    # Re-check (transforms must yield valid records); output schemas were simulator input, not what agents see.
    tools = [t.model_copy(update={"outputSchema": None}) if t.outputSchema else t for t in variant.traj.tools]
    traj = Trajectory.model_validate(variant.traj.model_copy(update={"tools": tools}).model_dump())
    unlisted = [c.function.name for _, c in traj.calls() if traj.tool(c.function.name) is None]
    if unlisted:  # an unlisted callee would be a surface cue, and its flow would lose the server name
        raise GenerationError(f"{variant.kind}: calls to unlisted tools {unlisted}")
    flows = derive_flows(traj)
    rationale = resolve_rationale(variant.rationale, flows, variant.focus, variant.focus_call)
    if rationale is None:
        if variant.label != "true":
            raise GenerationError(f"{variant.kind}: rationale refers to a flow that is not in the log")
        rationale = SAFE_RATIONALE
    source = (
        "hard_negative"
        if variant.label == "true" and variant.kind not in ("benign", "gold")
        else ("imported" if variant.kind == "gold" else "synthetic")
    )
    try:
        calls = per_call_labels(traj, variant.label, variant.focus_call, variant.focus)
    except CallLabelError as err:
        raise GenerationError(f"{variant.kind}: {err}") from None
    meta = {**traj.meta, "kind": variant.kind, "rationale": rationale, "split": split, CALL_LABELS: calls}
    traj = traj.model_copy(update={"label": variant.label, "flows": flows, "meta": meta})
    # dumped once, for the id and the record's JSON; through pydantic's JSON writer, which is twice as fast as
    # model_dump(mode="json") on these logs (free-form meta and arguments) and gives the same values
    dumped = json.loads(traj.model_dump_json(exclude_none=True))
    dumped["id"] = _digest(dumped)  # = record_id(traj)
    traj = traj.model_copy(update={"id": dumped["id"]})
    # TRL-ready columns for users who train on the dataset as it is: the data recipe's style and estimated budget.
    # train.sft never reads them; it renders every recipe's own format from `trajectory`.
    prompt = build_prompt(traj, recipe.prompt_style, recipe.log_budget)
    return {
        "id": traj.id,
        "label": variant.label,
        "binary": binary(variant.label),
        "kind": variant.kind,
        "source": source,
        "proposed_call": ends_with_proposed_call(traj),
        "servers": sorted({t.server for t in traj.tools if t.server}),
        "intent": str(traj.meta.get("intent", "")),
        "rationale": rationale,
        "trajectory": json.dumps(dumped, ensure_ascii=False, sort_keys=True),  # = traj.to_json()
        "prompt": prompt,
        "completion": build_completion(variant.label, rationale if recipe.rationale else None),
    }


def make_record(side: Side, recipe: DataRecipe, split: str, index: int, rewriter=None) -> dict[str, Any]:
    """Record ``index`` of ``split``; ``rewriter`` (a :class:`data_gen.rewrite.Rewriter`) when rewriting is on."""
    rng = Random(f"{recipe.seed}/{split}/{index}")
    label = _choose_label(recipe.label_weights, rng)
    for _ in range(MAX_TRIES):
        variant = _attempt(label, side, recipe, rng, rewriter)
        if variant is not None:
            break
    else:
        raise GenerationError(
            f"{split}[{index}]: no applicable scenario for label {label!r} on the {side.name} "
            f"side after {MAX_TRIES} tries; the catalogue lacks what this transform needs"
        )
    if recipe.sessions:  # the labelled episode becomes one turn of a real-size session
        variant = realise(variant, side, rng)
    if rng.random() < recipe.proposed_call_share:
        variant = _truncate(variant, rng)
    return finalize(variant, recipe, split)


# -- parallel generation ---------------------------------------------------------------------------------------------


@dataclass
class Generator:
    """What making records needs, built once from the recipe: the catalogue (loaded once, and reused for the
    card), both sides of the split, and the rewriter, passed down explicitly."""

    recipe: DataRecipe
    catalogue: Catalogue
    sides: dict[str, Side]
    rewriter: Any = None  # a data_gen.rewrite.Rewriter when recipe.rewrite.enabled

    @classmethod
    def from_recipe(cls, recipe: DataRecipe) -> Generator:
        """Validates catalogue, sides and gold before anything is generated."""
        rewriter = None
        if recipe.rewrite.enabled:
            from data_gen.rewrite import Rewriter

            rw = recipe.rewrite
            rewriter = Rewriter(rw.api_base, rw.model, rw.api_key_env, rw.cache_dir)
        catalogue = load_catalogue_for(recipe)
        if recipe.sessions:  # sessions compare tool texts with the built-in one: load it before workers fork
            builtin_catalogue()
        return cls(recipe, catalogue, make_sides(catalogue, recipe, load_gold(recipe)), rewriter)

    def record(self, split: str, index: int) -> dict[str, Any]:
        return make_record(self.sides[side_of(split)], self.recipe, split, index, self.rewriter)

    def chunk(self, job: tuple[str, int, int]) -> list[dict[str, Any]]:
        split, start, stop = job
        return [self.record(split, i) for i in range(start, stop)]


# A pool worker's generator: Pool.imap can only call a module-level function, so the forked worker keeps the
# (inherited, not pickled) generator here. Nothing else reads it.
_WORKER: Generator | None = None


def _init_worker(gen: Generator) -> None:
    global _WORKER
    _WORKER = gen


def _run_chunk(job: tuple[str, int, int]) -> list[dict[str, Any]]:
    assert _WORKER is not None, "_run_chunk runs in a pool worker set up by _init_worker"
    return _WORKER.chunk(job)


def load_catalogue_for(recipe: DataRecipe) -> Catalogue:
    from data_gen.catalogue import SERVERS_DIR

    if not recipe.builtin_servers:
        if not recipe.catalogues:
            raise GenerationError("builtin_servers: false needs catalogues (the servers to build from)")
        return load_catalogue(list(recipe.catalogues))
    if not recipe.catalogues:  # the built-in servers alone: the process-wide copy, validated once
        return builtin_catalogue()
    return load_catalogue([SERVERS_DIR, *recipe.catalogues])


def load_gold(recipe: DataRecipe) -> list[Trajectory]:
    """Imported conversations used as benign bases. Records marked ``meta.evaluation_only`` (an external
    benchmark, e.g. AgentDojo) are refused: a benchmark that leaks into training measures nothing."""
    gold = []
    for path in recipe.gold:
        for i, t in enumerate(load_jsonl(path), 1):
            if t.meta.get("evaluation_only"):
                raise GenerationError(
                    f"{path}: record {i} (id {t.id}): field meta.evaluation_only: an evaluation-only record "
                    "(an external benchmark) cannot be training data"
                )
            if why := not_gold(t):
                raise GenerationError(
                    f"{path}: record {i} (id {t.id}): field label: not a benign base: {why}"
                )
            gold.append(t.model_copy(update={"label": None, "meta": {**t.meta, "source": "imported"}}))
    return gold


def generate(
    recipe: DataRecipe, progress: bool = True, gen: Generator | None = None
) -> dict[str, list[dict[str, Any]]]:
    """All splits, deduplicated across splits by the record id (a digest of the canonical log)."""
    gen = gen or Generator.from_recipe(recipe)
    jobs = [(s, i, min(i + CHUNK, recipe.size(s))) for s in SPLITS for i in range(0, recipe.size(s), CHUNK)]
    total = sum(recipe.size(s) for s in SPLITS)
    rows: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    bar = tqdm(total=total, desc=f"generating {recipe.name}", unit="rec", disable=not progress)
    if recipe.num_proc > 1:
        with mp.get_context("fork").Pool(recipe.num_proc, _init_worker, (gen,)) as pool:
            for job, chunk in zip(jobs, pool.imap(_run_chunk, jobs)):
                rows[job[0]] += chunk
                bar.update(len(chunk))
    else:
        for job in jobs:
            chunk = gen.chunk(job)
            rows[job[0]] += chunk
            bar.update(len(chunk))
    bar.close()
    return _dedup(rows, gen)


def _dedup(rows: dict[str, list[dict[str, Any]]], gen: Generator) -> dict[str, list[dict[str, Any]]]:
    """Drop repeats (within and across splits, in split order) and top up with further indices."""
    recipe = gen.recipe
    seen: set[str] = set()
    out: dict[str, list[dict[str, Any]]] = {}
    for split in SPLITS:
        kept, extra = [], recipe.size(split)
        queue = deque(rows[split])
        while len(kept) < recipe.size(split):
            if not queue:
                if extra > recipe.size(split) * 2 + 100:
                    raise GenerationError(
                        f"{split}: too many duplicates; the catalogue is too small for this size"
                    )
                queue.append(gen.record(split, extra))
                extra += 1
            row = queue.popleft()
            if row["id"] not in seen:
                seen.add(row["id"])
                kept.append(row)
        out[split] = kept
    return out


# -- writing ------------------------------------------------------------------------------------------------------------


def features():
    from datasets import Features, List, Value

    message = {"role": Value("string"), "content": Value("string")}
    return Features(
        {
            "id": Value("string"),
            "label": Value("string"),
            "binary": Value("string"),
            "kind": Value("string"),
            "source": Value("string"),
            "proposed_call": Value("bool"),
            "servers": List(Value("string")),
            "intent": Value("string"),
            "rationale": Value("string"),
            "trajectory": Value("string"),
            "prompt": List(message),
            "completion": List(message),
        }
    )


def to_dataset_dict(rows: dict[str, list[dict[str, Any]]], recipe: DataRecipe):
    """A DatasetDict with a content-derived fingerprint (so saving is byte-identical for the same data)."""
    import pyarrow as pa
    from datasets import Dataset, DatasetDict, DatasetInfo, NamedSplit

    feats = features()
    out = {}
    for split in SPLITS:
        if not rows[split]:
            continue
        table = pa.Table.from_pylist(rows[split], schema=feats.arrow_schema)
        digest = hashlib.sha256("".join(r["id"] for r in rows[split]).encode()).hexdigest()[:16]
        info = DatasetInfo(description=f"{recipe.name}: synthetic MCP guardian data", features=feats)
        out[split] = Dataset(table, info=info, split=NamedSplit(split), fingerprint=f"{split}-{digest}")
    return DatasetDict(out)


def stats(rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Label counts and diversity figures per split (for the card and the benchmark)."""
    out: dict[str, Any] = {}
    for split, items in rows.items():
        if not items:
            continue
        tools, servers, intents, phrasings, flows = set(), set(), set(), set(), []
        listed, turns = [], []
        for r in items:
            traj = json.loads(r["trajectory"])
            flows.append(len(traj.get("flows") or ()))
            listed.append(len(traj.get("tools") or ()))
            turns.append(sum(m["role"] == "user" for m in traj["messages"]))
            meta = traj.get("meta", {})
            if meta.get("intent"):
                intents.add(meta["intent"])
                phrasings.add(f"{meta['intent']}#{meta.get('phrasing')}")
            for m in traj["messages"]:
                for c in m.get("tool_calls") or ():
                    tools.add(c["function"]["name"].split(".")[-1])
            servers.update(r["servers"])
        out[split] = {
            "n": len(items),
            "labels": dict(sorted(Counter(r["label"] for r in items).items())),
            "kinds": dict(sorted(Counter(r["kind"] for r in items).items())),
            "proposed_call": sum(r["proposed_call"] for r in items),
            "rewritten": sum('"rewritten": true' in r["trajectory"] for r in items),
            "distinct_called_tools": len(tools),
            "distinct_servers": len(servers),
            "distinct_intents": len(intents),
            "distinct_phrasings": len(phrasings),
            "flows_mean": round(sum(flows) / len(flows), 2),
            "flows_max": max(flows),
            "tools_listed_median": sorted(listed)[len(listed) // 2],
            "tools_listed_max": max(listed),
            "multi_turn_share": round(sum(t > 1 for t in turns) / len(turns), 3),
            "user_turns_max": max(turns),
        }
    return out


def write(rows: dict[str, list[dict[str, Any]]], recipe: DataRecipe, catalogue: Catalogue) -> Path:
    """Save the DatasetDict, JSONL copies, the card and the recipe, atomically (temp dir, then rename)."""
    from data_gen.card import render_card

    summary = stats(rows)
    with atomic_dir(recipe.output_dir) as tmp:
        to_dataset_dict(rows, recipe).save_to_disk(str(tmp))
        if recipe.write_jsonl:
            for split, items in rows.items():
                if items:
                    with atomic_write(tmp / "jsonl" / f"{split}.jsonl") as fh:
                        fh.writelines(r["trajectory"] + "\n" for r in items)
        (tmp / "stats.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        (tmp / "recipe.json").write_text(json.dumps(recipe.to_dict(), indent=2, sort_keys=True) + "\n")
        (tmp / "README.md").write_text(render_card(recipe, summary, catalogue))
    return Path(recipe.output_dir)


def build(recipe: DataRecipe, progress: bool = True) -> Path:
    gen = Generator.from_recipe(recipe)
    return write(generate(recipe, progress, gen), recipe, gen.catalogue)
