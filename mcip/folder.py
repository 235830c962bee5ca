"""What a guardian's folder says about itself, read once: the adapter's base, the saved prompt format, the context.

A guardian is a model folder (full, merged or exported), a LoRA adapter folder (its base named in
``adapter_config.json``), a training checkpoint (whose run folder above holds ``mcip_prompt.json``), a Hub id or
an endpoint. Loading the tokenizer, the weights and the prompter all need these facts; reading them here, once,
keeps the loaders from each opening the folder again and disagreeing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mcip.calibration import Calibration, CalibrationError
from mcip.prompt import PromptFormat, PromptFormatError

REPO = Path(__file__).resolve().parents[1]
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")


class ModelError(Exception):
    """A model, tokenizer or endpoint that cannot serve as a guardian (unreadable files, a failed load, a failed
    endpoint); the message names what and where."""


def resolve_base(base: str, adapter_dir: Path) -> str:
    """An adapter's base as a loadable path: a relative base that does not exist from here is looked up beside the
    adapter and from the repository root, so a shipped adapter naming ``models/smollm2-135m-instruct`` loads from
    any working directory once ``make models`` ran; anything else (a Hub id) is returned as it is."""
    if Path(base).is_absolute() or Path(base).exists():
        return base
    for root in (adapter_dir, REPO):
        if (root / base).is_dir():
            return str(root / base)
    return base


def _json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        data = None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: not a JSON object")
    return data


def _context(config: dict | None) -> int | None:
    data = (config or {}).get("text_config", config or {})  # multimodal configs nest the language model's
    return next((data[k] for k in _CONTEXT_KEYS if isinstance(data.get(k), int) and data[k] > 0), None)


@dataclass(frozen=True)
class ModelFolder:
    """A guardian's source: ``name`` (a folder or Hub id, None for an endpoint alone), the ``base`` an adapter
    loads onto (None for a full model), the ``fmt`` it was trained with (the defaults for a base model) and the
    ``context`` it attends to (None where no config is at hand: a Hub id or an endpoint), and the operating point
    fitted on held-out data (``mcip_calibration.json``; None where the folder has none)."""

    name: str | None
    base: str | None = None
    fmt: PromptFormat = field(default_factory=PromptFormat)
    context: int | None = None
    calibration: Calibration | None = None

    @property
    def is_dir(self) -> bool:
        return bool(self.name) and Path(self.name).is_dir()

    @classmethod
    def read(cls, model: str | None, base: str | None = None) -> ModelFolder:
        """Read ``model`` once; ``base`` overrides the adapter's own (export's ``--base_model``). A bad
        ``adapter_config.json``, ``mcip_prompt.json`` or ``mcip_calibration.json`` is a ModelError naming the file."""
        if not model or not Path(model).is_dir():
            return cls(model)
        path = Path(model)
        adapter = _json(path / "adapter_config.json")
        if adapter is not None and not base:
            base = adapter.get("base_model_name_or_path")
            if not base:
                raise ModelError(f"{path / 'adapter_config.json'}: no base_model_name_or_path")
            base = resolve_base(base, path)
        try:
            fmt = PromptFormat.load(path) or PromptFormat()
            calibration = Calibration.load(path)
        except (PromptFormatError, CalibrationError) as err:
            raise ModelError(str(err)) from None
        config = _json(path / "config.json")
        if config is None and base:
            config = _json(Path(base) / "config.json")
        return cls(model, base if adapter is not None else None, fmt, _context(config), calibration)
