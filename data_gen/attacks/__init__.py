"""One transform per risk label. Each module defines ``LABEL`` (an MCIP label string) and
``apply(traj, cat, rng) -> Variant | None`` (None: not applicable to this trajectory), and may define
``wants(intent, cat) -> bool`` to steer the generator towards intents it applies to.

Transforms are pure functions of (trajectory, catalogue, rng). To add a risk class, add its label to
``mcip/taxonomy.py`` and drop a module here; it is discovered automatically.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from mcip.taxonomy import LABEL_BY_STRING


def _discover() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        label = getattr(module, "LABEL", None)
        if label not in LABEL_BY_STRING or not callable(getattr(module, "apply", None)):
            raise TypeError(f"{module.__name__}: a transform module needs LABEL (an MCIP label) and apply()")
        if label in found:
            raise TypeError(f"{module.__name__}: label {label!r} already has {found[label].__name__}")
        found[label] = module
    return found


TRANSFORMS: dict[str, ModuleType] = _discover()
