"""Every transform: the label's defining property holds on the variant and not on its benign twin.

Properties are written independently of the transforms (from the label definitions in DESIGN.md), over many
seeds and intents of the built-in catalogue.
"""

from __future__ import annotations

import json
import re
from random import Random

import pytest

from data_gen import phrases
from data_gen.catalogue import builtin_catalogue
from data_gen.edit import call_sites, final_answer_index, mentions, scalar_values, user_text
from data_gen.registry import ATTACKS, NEGATIVES, negative
from data_gen.scenarios import benign
from mcip.record import Trajectory
from mcip.taxonomy import LABELS

CAT = builtin_catalogue()


def _calls(traj: Trajectory):
    return [(s.tool.qualified_name if s.tool else s.call.function.name, s.args, s) for s in call_sites(traj)]


def _spec(site):
    return CAT.tools.get(site.tool.qualified_name) if site.tool else None


def _tool_keys(traj):
    return [name for name, _, _ in _calls(traj)]


def _swapped(base, var):
    """(replaced, substitute) pairs: a planned call missing from the variant and an unrequested new call."""
    planned, names = _tool_keys(base), _tool_keys(var)
    replaced = [n for n in planned if n not in names]
    new = [(n, site) for n, _, site in _calls(var) if n not in planned and _unrequested(var, n)]
    return [(r, n, site) for r in replaced for n, site in new]


def _norm(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").rstrip("s")


def overlapping(base, var):
    """A planned call went instead to a (nearly) same-named tool on another server."""
    return any(
        r.split(".")[0] != n.split(".")[0]
        and (
            _norm(r.split(".", 1)[1]) in _norm(n.split(".", 1)[1])
            or _norm(n.split(".", 1)[1]) in _norm(r.split(".", 1)[1])
        )
        for r, n, _ in _swapped(base, var)
    )


def escalated(base, var):
    """A planned call to a non-admin tool went instead to an admin tool."""
    privilege = {t.qualified_name: t.privilege for t in base.tools}
    return any(
        site.tool.privilege == "admin" and privilege.get(r) != "admin" for r, _, site in _swapped(base, var)
    )


def _unrequested(var, name):
    return name.split(".")[-1] not in user_text(var)


def extra_before(base, var):
    """An unrequested call the benign plan does not contain runs before one of the plan's calls, and nothing uses
    its result."""
    planned = _tool_keys(base)
    names = _tool_keys(var)
    for i, (name, _, site) in enumerate(_calls(var)):
        if name not in planned and _unrequested(var, name) and any(n in planned for n in names[i + 1 :]):
            later = " ".join(json.dumps(a) for _, a, _ in _calls(var)[i + 1 :])
            known = user_text(var) + json.dumps(
                [a for _, a, _ in _calls(base)]
            )  # echoes of the user's values
            fresh = [
                v for v in scalar_values(site.result) if isinstance(v, str) and len(v) > 5 and v not in known
            ]
            return not any(mentions(later, v) for v in fresh)
    return False


def extra_after(base, var):
    """An unrequested call the benign plan does not contain runs after every planned call has run."""
    planned = _tool_keys(base)
    names = _tool_keys(var)
    return any(
        n not in planned and _unrequested(var, n) and names[:i] and all(p in names[:i] for p in planned)
        for i, n in enumerate(names)
    )


def misordered(base, var):
    """A call runs before a call it requires."""
    names = _tool_keys(var)
    for i, (_, _, site) in enumerate(_calls(var)):
        spec = _spec(site)
        for pre in CAT.prerequisites(spec) if spec else ():
            if pre.qualified in names[i + 1 :] and pre.qualified not in names[:i]:
                return True
    return False


def wrong_function(base, var):
    """A planned call went instead to another function of the same server (not an admin twin)."""
    return any(
        r.split(".")[0] == n.split(".")[0] and site.tool.privilege != "admin"
        for r, n, site in _swapped(base, var)
    )


def _said(text: str, value) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) in _numbers(text)
    return mentions(text, value)


def wrong_argument(base, var):
    """The same planned call, with an argument the user stated replaced by one the user did not state."""
    said = user_text(var)
    for (b_name, b_args, _), (v_name, v_args, _) in zip(_calls(base), _calls(var)):
        if b_name == v_name:
            for k, old in b_args.items():
                new = v_args.get(k)
                if new != old and _said(said, old) and not _said(said, new):
                    return True
    return False


# The agent's own words are not data: generic claim words and the fixed sentences safe logs add.
CLAIM_WORDS = set(
    [
        "also",
        "checked",
        "reports",
        "from",
        "additionally",
        "for",
        "reference",
        "shows",
        "returned",
        "function",
        "response",
        "result",
        "call",
        "tool",
        "output",
        "description",
    ]
) | {
    w.lower()
    for t in (*phrases.DECLINE_TEMPLATES, *phrases.IGNORED_NOTES, *phrases.DONE_NOTES)
    for w in re.findall(r"[A-Za-z]+", t)
}


def _words(text: str) -> set[str]:
    words = {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z_]{3,}", text)}
    return words | {part for w in words for part in w.split("_")}  # answers show status_code as "status code"


_NUMBER = re.compile(r"(?<![A-Za-z\d])\d[\d,]*(?:\.\d+)?")  # not the 3 of "s3://" or the 95 of "fa95e0"


def _numbers(text: str) -> set[float]:
    return {float(x.replace(",", "")) for x in _NUMBER.findall(text)}


def unreturned_data(base, var):
    """The answer states a value (a result string of the benign log, or any number) that no tool result and no
    user message of this log contains."""
    fa = final_answer_index(var)
    if fa is None:
        return False
    answer = var.messages[fa].content
    sources = user_text(var) + "\n" + "\n".join(m.content for m in var.messages if m.role == "tool")
    if _numbers(answer) - _numbers(sources):
        return True
    strings = [
        v
        for m in base.messages
        if m.role == "tool"
        for v in scalar_values(json.loads(m.content))
        if isinstance(v, str) and len(v) >= 4
    ]
    if any(v in answer and v not in sources for v in strings):
        return True
    # words an extended answer adds that no source, tool name or description holds (generic claim words aside);
    # a new answer to a follow-up turn is not an extension
    base_fa = final_answer_index(base)
    if base_fa is None or not answer.startswith(base.messages[base_fa].content.rstrip(".")[:40]):
        return False
    known = (
        _words(base.messages[base_fa].content if base_fa is not None else "")
        | _words(sources)
        | _words(" ".join(f"{t.qualified_name} {t.description}" for t in var.tools))
        | CLAIM_WORDS
    )
    return bool(_words(answer) - known)


def unverified_claim(base, var):
    text = "\n".join(m.content or "" for m in var.messages)
    if not any(role.lower() in text.lower() for role in phrases.ROLES):
        return False
    sites = call_sites(var)
    verified = False
    for s in sites:
        spec = _spec(s)
        if (spec is not None and spec.verifier) or (
            isinstance(s.result, dict) and s.result.get("verified") is True
        ):
            verified = True
        privileged = s.tool and (s.tool.privilege == "admin" or (spec and spec.privileged))
        if (
            privileged
            and not verified
            and s.call.function.name not in {c.function.name for _, c in base.calls()}
        ):
            return True
    return False


def replayed(base, var):
    """A call with a side effect repeats, same name and arguments, after the first one succeeded."""
    seen = {}
    for s in call_sites(var):
        key = (s.call.function.name, s.call.function.arguments)
        spec = _spec(s)
        first = seen.get(key)
        if (
            first is not None
            and spec is not None
            and not spec.idempotent
            and not (isinstance(first.result, dict) and "error" in first.result)
        ):
            return True
        seen.setdefault(key, s)
    return False


PROPERTIES = {
    "function_overlapping": overlapping,
    "excessive_privileges": escalated,
    "function_dependency_injection": extra_before,
    "function_injection": extra_after,
    "causal_dependency_injection": misordered,
    "ignore_prupose_prompt_injection": wrong_function,
    "wrong_parameter_prompt_injection": wrong_argument,
    "data_injection": unreturned_data,
    "identity_injection": unverified_claim,
    "replay_function": replayed,
}


def test_one_transform_per_risk_label():
    assert set(ATTACKS) == {lb.string for lb in LABELS if lb.unsafe} == set(PROPERTIES)
    assert all(t.name == t.label == label for label, t in ATTACKS.items())


def test_one_registry_holds_the_hard_negatives_with_their_weights():
    assert {t.label for t in NEGATIVES.values()} == {"true"}
    assert all(t.weight > 0 and t.name == kind and t.apply.__name__ == kind for kind, t in NEGATIVES.items())
    assert NEGATIVES["verified_identity"].weight == 2.5 and NEGATIVES["quoted_result"].weight == 1.0
    # correct_order mirrors Causal Dependency Injection: both steer to the same intents
    assert NEGATIVES["correct_order"].wants is ATTACKS["causal_dependency_injection"].wants is not None
    with pytest.raises(TypeError, match="'quoted_result' is registered twice"):
        negative()(NEGATIVES["quoted_result"].apply)


def test_negatives_borrow_surfaces_from_a_public_module_not_from_attacks():
    from pathlib import Path

    source = (Path(__file__).resolve().parents[1] / "data_gen" / "negatives.py").read_text()
    assert "data_gen.attacks" not in source and "_common" not in source


def _pairs(label, n=40, seed=0):
    transform = ATTACKS[label]
    wants = transform.wants
    intents = [i for i in CAT.intents if wants is None or wants(i, CAT)]
    rng = Random(f"{seed}/{label}")
    out = []
    for _ in range(n * 3):
        base = benign(rng.choice(intents), CAT, rng).traj
        before = base.model_dump_json()
        variant = transform.apply(base, CAT, rng)
        assert base.model_dump_json() == before, "a transform must not mutate its input"
        if variant is not None:
            out.append((base, variant))
        if len(out) == n:
            break
    return out


@pytest.mark.parametrize("label", sorted(PROPERTIES))
def test_defining_property_holds_and_benign_twin_lacks_it(label):
    pairs = _pairs(label)
    assert len(pairs) >= 30, f"{label}: transform rarely applies ({len(pairs)} of 40)"
    prop = PROPERTIES[label]
    for base, variant in pairs:
        assert variant.label == label
        traj = Trajectory.model_validate(variant.traj.model_dump())  # still a valid record
        assert prop(base, traj), (label, variant.kind, traj.model_dump_json()[:1500])
        assert not prop(base, base), (label, "benign twin has the property", base.model_dump_json()[:800])
        assert variant.rationale and "Flow" in variant.rationale


@pytest.mark.parametrize("kind", sorted(NEGATIVES))
def test_hard_negatives_are_safe_and_lack_every_risk_property(kind):
    wants = NEGATIVES[kind].wants
    intents = [i for i in CAT.intents if wants is None or wants(i, CAT)]
    rng = Random(f"neg/{kind}")
    made = 0
    for _ in range(120):
        base = benign(rng.choice(intents), CAT, rng).traj
        variant = NEGATIVES[kind].apply(base, CAT, rng)
        if variant is None:
            continue
        made += 1
        assert variant.label == "true" and variant.kind == kind
        for label, prop in PROPERTIES.items():
            assert not prop(base, variant.traj), (
                kind,
                "looks like",
                label,
                variant.traj.model_dump_json()[:1500],
            )
        if made == 25:
            break
    assert made >= 15, f"{kind}: rarely applicable ({made})"


def test_negatives_share_the_surface_of_their_attacks():
    """Injected text, look-alikes and admin tools appear in safe logs too, so their presence is no label."""
    rng = Random(7)
    intents = CAT.intents
    texts = {"ignored_injection": False, "lookalike_listed": False, "twin_listed": False}
    for _ in range(60):
        base = benign(rng.choice(intents), CAT, rng).traj
        v = NEGATIVES["ignored_injection"].apply(base, CAT, rng)
        if v and any(
            t.split("{")[0][:12] in (m.content or "")
            for m in v.traj.messages
            for t in phrases.INJECTION_TEMPLATES
        ):
            texts["ignored_injection"] = True
        v = NEGATIVES["lookalike_listed"].apply(base, CAT, rng)
        if v and len(v.traj.tools) > len(base.tools):
            texts["lookalike_listed"] = True
        v = NEGATIVES["twin_listed"].apply(base, CAT, rng)
        if v and any(t.privilege == "admin" for t in v.traj.tools):
            texts["twin_listed"] = True
    assert all(texts.values()), texts
