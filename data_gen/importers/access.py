"""Guess an imported tool's privilege and side effect, which outside catalogues never state.

MCP annotations are the server's own word, so they come first (``readOnlyHint`` -> read, ``destructiveHint`` ->
deletes). Otherwise the first verb of the tool name decides (``get_user_roles`` reads even though it mentions
roles), then the first verb of the description; a tool with no recognisable verb is taken to be a read, the
common case for the calculators and look-ups these datasets are full of.
"""

from __future__ import annotations

import re
from typing import Any

from data_gen.catalogue import Effect

Access = tuple[str, Effect]  # (privilege, effect)

# (access, verbs): the first recognised verb of a name or description decides.
_VERB_TABLE: list[tuple[Access, str]] = [
    (
        ("read", "none"),
        "get list search read fetch find query lookup retrieve show view check calculate compute convert count "
        "describe explain estimate analyze analyse validate verify inspect browse download scan summarize "
        "summarise predict recommend translate determine compare go goto navigate open hover select",
    ),
    (
        ("write", "modifies"),
        "create add update set write upload edit modify insert save put patch rename move copy register book "
        "reserve schedule cancel install change append enable disable start stop lock unlock generate make "
        "click fill press drag commit reset init checkout mark approve replace close",
    ),
    (("write", "sends"), "send post email mail publish notify share reply forward message tweet"),
    (
        ("write", "deletes"),
        "delete remove drop purge erase destroy wipe truncate uninstall clear kill terminate",
    ),
    (("write", "spends"), "pay charge transfer purchase buy order refund withdraw deposit"),
    (("admin", "executes"), "exec execute run shell eval sudo deploy launch"),
    (("admin", "grants"), "grant revoke assign elevate promote impersonate"),
    # identity checks open a session at read level, as the built-in catalogue's verify_identity does
    (("read", "grants"), "authenticate authorize authorise login logon signin"),
]
# Objects that say more than a generic write verb: changing who may do what, or moving money.
_OBJECT_TABLE: list[tuple[Access, str]] = [
    (("admin", "grants"), "admin administrator role roles permission permissions privilege privileges"),
    (("write", "spends"), "payment payments money funds"),
]
_VERBS = {verb: access for access, verbs in _VERB_TABLE for verb in verbs.split()}
_OBJECTS = {noun: access for access, nouns in _OBJECT_TABLE for noun in nouns.split()}
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def words(text: str) -> list[str]:
    """``getUserRoles`` / ``get_user-roles`` -> ``["get", "user", "roles"]``."""
    return [w.lower() for w in _WORDS.findall(text)]


def _verb(tokens: list[str]) -> Access | None:
    for token in tokens:
        for stem in (
            token,
            token.removesuffix("s"),
            token.removesuffix("es"),
            token.removesuffix("ing"),
            token.removesuffix("ed"),
            token.removesuffix("d"),
        ):
            if stem in _VERBS:
                return _VERBS[stem]
    return None


def infer_access(name: str, description: str = "", annotations: dict[str, Any] | None = None) -> Access:
    """(privilege, effect) for a tool; see the module docstring for the order of evidence."""
    hints = annotations or {}
    if hints.get("readOnlyHint") is True:
        return "read", "none"
    name_words = words(name)
    guess = _verb(name_words) or _verb(words(description)[:12]) or ("read", "none")
    if hints.get("destructiveHint") is True:
        guess = ("admin" if guess[0] == "admin" else "write", "deletes")
    elif hints.get("readOnlyHint") is False and guess[0] == "read":
        guess = ("write", "modifies")  # the server says it is not read-only, whatever the name suggests
    if guess[0] == "write":
        upgrade = next((_OBJECTS[w] for w in name_words if w in _OBJECTS), None)
        if upgrade:  # a delete of a role stays a delete, but by an admin
            return upgrade[0], upgrade[1] if guess[1] == "modifies" else guess[1]
    return guess
