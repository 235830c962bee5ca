"""One way to register a part of data_gen: a decorator per kind, modules found by a package scan.

- ``@attack(LABEL, wants=...)`` on ``apply(traj, cat, rng)`` in a module of ``data_gen/attacks``: the transform
  that turns a benign base into a record of that risk label (``ATTACKS``);
- ``@negative(weight=..., wants=...)`` on a function of ``data_gen/negatives.py``: a hard negative, label
  ``true``, registered under the function's name, the record's ``kind`` (``NEGATIVES``);
- ``@importer(NAME, KIND)`` on a function of a module in ``data_gen/importers`` (``IMPORTERS``): ``conversations``
  (a file -> trajectories, usually through ``data_gen.importers.common.conversation_importer``), ``tools`` (a file
  -> servers), ``synthesis`` (servers -> generator-ready servers) or ``evaluation`` (a command line that builds
  evaluation-only records itself).

Each registry imports the modules it scans the first time it is read, so this module imports none of them and
they all import it: adding a part is one decorated function in a module of the scanned package, nothing else.
A name registered twice raises ``TypeError``.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from random import Random
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from mcip.taxonomy import LABEL_BY_STRING

if TYPE_CHECKING:
    from data_gen.catalogue import Catalogue, IntentSpec
    from data_gen.edit import Variant
    from mcip.record import Trajectory

Apply = Callable[["Trajectory", "Catalogue", Random], "Variant | None"]
Wants = Callable[["IntentSpec", "Catalogue"], bool]
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class Registry(Mapping[str, T], Generic[T]):
    """Name -> registered part. Reading it first imports ``modules`` (a package: each of its public modules, by
    name), whose decorators fill it; ``add`` refuses a name that is already taken."""

    def __init__(self, kind: str, *modules: str) -> None:
        self.kind = kind
        self.modules = modules
        self._parts: dict[str, T] = {}
        self._scanned = False

    def add(self, name: str, part: T, where: str) -> None:
        if name in self._parts:
            raise TypeError(f"{where}: {self.kind} {name!r} is registered twice")
        self._parts[name] = part

    def _scan(self) -> dict[str, T]:
        if not self._scanned:
            self._scanned = True  # first: the modules being imported may read the registry
            for name in self.modules:
                module = importlib.import_module(name)
                for info in sorted(
                    pkgutil.iter_modules(getattr(module, "__path__", [])), key=lambda m: m.name
                ):
                    if not info.name.startswith("_"):
                        importlib.import_module(f"{name}.{info.name}")
        return self._parts

    def __getitem__(self, name: str) -> T:
        return self._scan()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._scan())

    def __len__(self) -> int:
        return len(self._scan())


@dataclass(frozen=True)
class Transform:
    """``apply(traj, cat, rng)`` returns the variant or None (not applicable to this base)."""

    name: str  # the label of an attack, the kind of a hard negative
    label: str
    apply: Apply
    wants: Wants | None = None  # steers the generator towards intents the transform applies to
    weight: float = 1.0  # how often a hard-negative kind is drawn, relative to the other kinds


ATTACKS: Registry[Transform] = Registry("attack", "data_gen.attacks")
NEGATIVES: Registry[Transform] = Registry("hard negative", "data_gen.negatives")


def attack(label: str, wants: Wants | None = None) -> Callable[[Apply], Apply]:
    """Register ``apply`` as the transform for the risk label ``label`` (an MCIP label string)."""

    def register(fn: Apply) -> Apply:
        where = f"{fn.__module__}.{fn.__name__}"
        if label not in LABEL_BY_STRING or label == "true":
            raise TypeError(f"{where}: {label!r} is not an MCIP risk label")
        ATTACKS.add(label, Transform(label, label, fn, wants), where)
        return fn

    return register


def negative(weight: float = 1.0, wants: Wants | None = None) -> Callable[[Apply], Apply]:
    """Register a hard negative under its function's name (the record's ``kind``)."""

    def register(fn: Apply) -> Apply:
        NEGATIVES.add(
            fn.__name__, Transform(fn.__name__, "true", fn, wants, weight), f"{fn.__module__}.{fn.__name__}"
        )
        return fn

    return register


CONVERSATIONS = "conversations"  # load(path) -> Iterator[Trajectory]: benign gold dialogues
TOOLS = "tools"  # load(path) -> list[ServerSpec]: tool catalogues
SYNTHESIS = "synthesis"  # load(servers) -> list[ServerSpec]: imported servers made generator-ready
EVALUATION = "evaluation"  # load(argv) -> exit code: a command that writes evaluation-only records
IMPORTER_KINDS = (CONVERSATIONS, TOOLS, SYNTHESIS, EVALUATION)


@dataclass(frozen=True)
class Importer:
    name: str  # what the command line and recipes call it
    kind: str  # one of IMPORTER_KINDS
    load: Callable[..., Any]
    doc: str  # one line for help texts: by default the first line of the module's docstring


IMPORTERS: Registry[Importer] = Registry("importer", "data_gen.importers")


def importer(name: str, kind: str, doc: str | None = None) -> Callable[[F], F]:
    """Register ``fn`` as the importer ``name`` of ``kind`` (see ``IMPORTER_KINDS``)."""

    def register(fn: F) -> F:
        where = f"{fn.__module__}.{fn.__name__}"
        if kind not in IMPORTER_KINDS:
            raise TypeError(f"{where}: importer kind {kind!r} is not one of {', '.join(IMPORTER_KINDS)}")
        summary = doc or (sys.modules[fn.__module__].__doc__ or "").strip().split("\n")[0]
        IMPORTERS.add(name, Importer(name, kind, fn, summary), where)
        return fn

    return register


class Loaders(Mapping[str, Callable[..., Any]]):
    """The ``load`` functions of one importer kind, by name (a live view of ``IMPORTERS``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def _loads(self) -> dict[str, Callable[..., Any]]:
        return {name: i.load for name, i in IMPORTERS.items() if i.kind == self.kind}

    def __getitem__(self, name: str) -> Callable[..., Any]:
        return self._loads()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loads())

    def __len__(self) -> int:
        return len(self._loads())
