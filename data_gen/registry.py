"""One registry for what turns a benign base into a labelled record: the attack for each risk label and the hard
negatives (label ``true``).

Attacks are modules in ``data_gen/attacks`` (``LABEL``, ``apply``, optional ``wants``), discovered by importlib;
hard negatives are functions in ``data_gen/negatives.py`` registered with ``@negative``. The generator draws from
here only, so adding either is one module or one decorated function.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import TYPE_CHECKING

from mcip.taxonomy import LABEL_BY_STRING

if TYPE_CHECKING:
    from data_gen.catalogue import Catalogue, IntentSpec
    from data_gen.edit import Variant
    from mcip.record import Trajectory

Apply = Callable[["Trajectory", "Catalogue", Random], "Variant | None"]
Wants = Callable[["IntentSpec", "Catalogue"], bool]


@dataclass(frozen=True)
class Transform:
    """``apply(traj, cat, rng)`` returns the variant or None (not applicable to this base)."""

    name: str  # the label of an attack, the kind of a hard negative
    label: str
    apply: Apply
    wants: Wants | None = None  # steers the generator towards intents the transform applies to
    weight: float = 1.0  # how often a hard-negative kind is drawn, relative to the other kinds


NEGATIVES: dict[str, Transform] = {}


def negative(weight: float = 1.0, wants: Wants | None = None) -> Callable[[Apply], Apply]:
    """Register a hard negative under its function's name (the record's ``kind``)."""

    def register(fn: Apply) -> Apply:
        if fn.__name__ in NEGATIVES:
            raise TypeError(
                f"{fn.__module__}.{fn.__name__}: hard negative {fn.__name__!r} is registered twice"
            )
        NEGATIVES[fn.__name__] = Transform(fn.__name__, "true", fn, wants, weight)
        return fn

    return register


def _discover_attacks() -> dict[str, Transform]:
    package = importlib.import_module("data_gen.attacks")
    found: dict[str, Transform] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        label = getattr(module, "LABEL", None)
        if label not in LABEL_BY_STRING or not callable(getattr(module, "apply", None)):
            raise TypeError(f"{module.__name__}: a transform module needs LABEL (an MCIP label) and apply()")
        if label in found:
            raise TypeError(f"{module.__name__}: label {label!r} already has {found[label].apply.__module__}")
        found[label] = Transform(label, label, module.apply, getattr(module, "wants", None))
    return found


ATTACKS: dict[str, Transform] = _discover_attacks()
importlib.import_module("data_gen.negatives")  # its @negative decorators fill NEGATIVES
