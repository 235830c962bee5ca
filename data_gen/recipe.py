"""The data recipe: every knob of a dataset build, read from YAML and overridable on the command line.

``python -m data_gen --config recipes/data/default.yaml --train_size 5000 --seed 7`` reads the file, applies
the overrides (values parsed as YAML), and validates the result; a bad key or value is reported with the
file and the field, before anything is generated.
"""

from __future__ import annotations

import os
from dataclasses import asdict, field
from typing import Any

import yaml
from pydantic import ConfigDict, ValidationError, field_validator, model_validator
from pydantic.dataclasses import dataclass

from mcip.prompt import STYLES
from mcip.taxonomy import LABEL_STRINGS

SPLITS = ("train", "validation", "test", "test_unseen")


class RecipeError(ValueError):
    pass


def default_weights() -> dict[str, float]:
    """`true` about a third; the ten risks share the rest equally (no class starved)."""
    return {"true": 0.34, **{lb: 0.066 for lb in LABEL_STRINGS if lb != "true"}}


@dataclass(config=ConfigDict(extra="forbid"))
class RewriteConfig:
    """Optional LLM rewriting of user turns and final answers (off by default; labels never depend on it)."""

    enabled: bool = False
    api_base: str | None = None  # an OpenAI-compatible endpoint, e.g. http://localhost:8000/v1
    model: str | None = None  # the endpoint's model name, or a local transformers model path
    api_key_env: str = "OPENAI_API_KEY"
    share: float = 0.3  # share of benign bases whose user turn and answer get rewritten
    cache_dir: str = "data/.rewrite-cache"


@dataclass(config=ConfigDict(extra="forbid"))
class DataRecipe:
    name: str = "mcip-synth"
    output_dir: str = "data/mcip-synth"
    seed: int = 1234
    train_size: int = 24000
    validation_size: int = 1000
    test_size: int = 2000
    test_unseen_size: int = 2000
    label_weights: dict[str, float] = field(default_factory=default_weights)
    hard_negative_share: float = 0.5  # of the `true` records
    proposed_call_share: float = 0.25  # logs cut right after the call under review (guard-before-call)
    holdout_servers: list[str] = field(default_factory=list)  # test_unseen only; never in the other splits
    catalogues: list[str] = field(default_factory=list)  # extra server YAML folders/files (e.g. imported)
    builtin_servers: bool = True  # false: build from ``catalogues`` alone (e.g. your own imported servers)
    sessions: bool = True  # real-size sessions: servers, whole tool lists, several turns, long results
    gold: list[str] = field(default_factory=list)  # JSONL trajectory files used as benign bases (train side)
    gold_share: float = 0.0
    prompt_style: str = "full"
    # the stored `prompt` column's room for the log (the name training uses too)
    log_budget: int | None = 1500
    rationale: bool = True  # include the "Rationale:" line in the target answer
    num_proc: int = 2
    write_jsonl: bool = True
    rewrite: RewriteConfig = field(default_factory=RewriteConfig)

    @model_validator(mode="after")
    def _rewrite_target(self) -> DataRecipe:
        if self.rewrite.enabled and not self.rewrite.model:
            raise ValueError(
                "rewrite.enabled needs rewrite.model (an endpoint's model name or a local model path)"
            )
        return self

    @field_validator("catalogues", "gold", mode="before")
    @classmethod
    def _one_path(cls, value: Any) -> Any:
        """``--catalogues servers/`` names one folder: no need to type ``[servers/]``."""
        return [value] if isinstance(value, (str, os.PathLike)) else value

    @field_validator("label_weights")
    @classmethod
    def _labels(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(LABEL_STRINGS))
        if unknown:
            raise ValueError(f"unknown label(s) {unknown}; expected MCIP label strings")
        if any(w < 0 for w in value.values()) or sum(value.values()) <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        return value

    @field_validator("prompt_style")
    @classmethod
    def _style(cls, value: str) -> str:
        if value not in STYLES:
            raise ValueError(f"unknown prompt style {value!r}; expected one of {', '.join(STYLES)}")
        return value

    @field_validator("hard_negative_share", "proposed_call_share", "gold_share")
    @classmethod
    def _share(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError("must be between 0 and 1")
        return value

    @model_validator(mode="after")
    def _sizes(self) -> DataRecipe:
        for split in SPLITS:
            if getattr(self, f"{split}_size") < 0:
                raise ValueError(f"{split}_size must be >= 0")
        if self.test_unseen_size and not self.holdout_servers:
            raise ValueError("test_unseen_size > 0 needs holdout_servers")
        if self.gold_share and not self.gold:
            raise ValueError("gold_share > 0 needs gold files")
        return self

    def size(self, split: str) -> int:
        return getattr(self, f"{split}_size")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _parse_overrides(args: list[str], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        key = args[i]
        if not key.startswith("--") or i + 1 >= len(args):
            raise RecipeError(f"{where}: expected --key value pairs, got {' '.join(args[i : i + 2])!r}")
        value = yaml.safe_load(args[i + 1])
        node = out
        *parents, leaf = key[2:].split(".")  # --rewrite.enabled true
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
        i += 2
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_recipe(path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> DataRecipe:
    where = str(path) if path else "<defaults>"
    raw: dict[str, Any] = {}
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                raw = yaml.safe_load(fh) or {}
        except OSError as err:
            raise RecipeError(f"{where}: cannot read recipe: {err.strerror}") from None
        except yaml.YAMLError as err:
            raise RecipeError(f"{where}: invalid YAML: {err}") from None
        if not isinstance(raw, dict):
            raise RecipeError(f"{where}: a recipe must be a YAML mapping")
    raw = _merge(raw, _parse_overrides(overrides or [], "command line"))
    if isinstance(raw.get("label_weights"), dict):  # YAML reads the paper's label `true` as a boolean key
        raw["label_weights"] = {("true" if k is True else k): v for k, v in raw["label_weights"].items()}
    try:
        return DataRecipe(**raw)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            loc = ".".join(str(p) for p in e["loc"]) or "<recipe>"
            msg = (
                "unknown key"
                if e["type"] == "unexpected_keyword_argument"
                else e["msg"].removeprefix("Value error, ")
            )
            lines.append(f"{where}: field {loc}: {msg}")
        raise RecipeError("\n".join(lines)) from None
    except TypeError as err:  # unknown keyword
        raise RecipeError(f"{where}: {err}") from None
