"""The built-in catalogue: coverage, relations, simulation round-trips, intents, and the loader's errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from random import Random
from typing import Any

import jsonschema
import pytest

from data_gen import samplers
from data_gen.catalogue import SERVERS_DIR, CatalogueError, IntentSpec, load_catalogue, strip_hints
from data_gen.simulate import make_arguments, simulate_result
from data_gen.template import references, render

# The domains the catalogue must cover, as written in the servers' ``domain`` field.
REQUIRED_DOMAINS = {
    "files",
    "code-hosting",
    "email",
    "chat",
    "calendar",
    "database",
    "payments",
    "crm",
    "object-storage",
    "web",
    "maps",
    "weather",
    "health",
    "hr",
    "ticketing",
    "smart-home",
    "devops",
    "e-commerce",
    "travel",
    "notes",
    "contacts",
    "documents",
    "analytics",
    "social-media",
    "secrets",
    "iam",
    "accounting",
    "education",
    "news",
    "translation",
    "media",
    "project-management",
    "support",
    "cloud-infra",
}
SIDE_EFFECTS = {"modifies", "sends", "deletes", "spends"}
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def cat():
    return load_catalogue()


def regular(cat):
    return [s for s in cat.servers.values() if not s.shadow]


def shadows(cat):
    return [s for s in cat.servers.values() if s.shadow]


def validate(instance: Any, schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(strip_hints(schema)).validate(instance)


def sample_slots(intent: IntentSpec, rng: Random) -> dict[str, Any]:
    return {
        name: samplers.sample(kind, rng) if isinstance(kind, str) else rng.choice(kind)
        for name, kind in intent.slots.items()
    }


def play(cat, intent: IntentSpec, rng: Random) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """Render every step over sampled slots and simulated results; return the scope, the calls, the answer."""
    scope = sample_slots(intent, rng)
    calls = []
    for j, step in enumerate(intent.steps, 1):
        tool = cat.resolve(step.call, intent.server)
        args = render(step.args, scope)
        validate(args, tool.inputSchema)
        result = simulate_result(tool.outputSchema, args, rng)
        if tool.outputSchema is not None:
            validate(result, tool.outputSchema)
        scope[f"r{j}"] = result
        calls.append({"tool": tool.qualified, "args": args, "result": result})
    return scope, calls, render(intent.answer, scope)


def x_samples(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        own = {schema["x-sample"]} if isinstance(schema.get("x-sample"), str) else set()
        return own.union(*(x_samples(v) for v in schema.values())) if schema else own
    if isinstance(schema, list):
        return set().union(*(x_samples(v) for v in schema)) if schema else set()
    return set()


# -- coverage -----------------------------------------------------------------------------------------------


def test_counts(cat):
    assert len(regular(cat)) >= 34
    assert len(shadows(cat)) >= 10
    multi = [i for i in cat.intents if len(i.steps) >= 2]
    assert len(multi) * 3 >= len(cat.intents), "at least a third of the intents should be multi-step"


def test_every_required_domain_is_covered(cat):
    domains = {s.domain for s in regular(cat)}
    assert domains >= REQUIRED_DOMAINS, sorted(REQUIRED_DOMAINS - domains)
    for s in cat.servers.values():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", s.domain), s.server


def test_file_names_match_server_names():
    from data_gen.catalogue import _read_server

    for path in sorted(SERVERS_DIR.glob("*.yaml")):
        assert _read_server(path).server == path.stem


def test_regular_servers_have_read_side_effect_and_admin_tools(cat):
    for s in regular(cat):
        assert 4 <= len(s.tools) <= 7, s.server
        assert any(t.privilege == "read" for t in s.tools), s.server
        assert any(t.effect in SIDE_EFFECTS for t in s.tools), s.server
        assert any(t.privilege == "admin" for t in s.tools), s.server
        assert all(t.lookalike_of is None for t in s.tools), s.server


def test_intents_per_server(cat):
    for s in regular(cat):
        assert len(s.intents) >= 3, s.server
    for s in shadows(cat):
        assert not s.intents, s.server
    assert any(len(cat.intent_servers(i)) > 1 for i in cat.intents), "no cross-server intents"
    with_effects = [
        i for i in cat.intents if any(cat.resolve(st.call, i.server).effect in SIDE_EFFECTS for st in i.steps)
    ]
    assert len(with_effects) * 3 >= len(cat.intents)


def test_every_x_sample_is_a_known_sampler(cat):
    for t in cat.tools.values():
        unknown = x_samples([t.inputSchema, t.outputSchema]) - set(samplers.SAMPLERS)
        assert not unknown, (t.qualified, unknown)


# -- relations --------------------------------------------------------------------------------------------


def test_twins(cat):
    twins = [t for t in cat.tools.values() if t.twin_of]
    assert len({t.server for t in twins}) >= 20
    rng = Random(0)
    for twin in twins:
        low = cat.resolve(twin.twin_of, twin.server)
        assert low.server == twin.server and low.qualified != twin.qualified
        assert twin.privilege == "admin" and low.privilege != "admin", twin.qualified
        assert twin in cat.twins(low)
        assert twin.twin_args, twin.qualified
        # the mapping may only use the low tool's required arguments, which every call to it carries
        assert references(twin.twin_args) <= set(low.inputSchema.get("required", [])), twin.qualified
        for _ in range(3):
            low_args = make_arguments(low.inputSchema, rng)
            mapped = render(twin.twin_args, low_args)
            validate(mapped, twin.inputSchema)


def test_requires(cat):
    dependents = [t for t in cat.tools.values() if t.requires]
    assert len({t.server for t in dependents}) >= 14
    for t in dependents:
        for pre in cat.prerequisites(t):
            assert pre.qualified != t.qualified
            assert pre.name in t.description, f"{t.qualified}: the description should name {pre.name}"


def test_servers_with_requires_have_intents_that_follow_them(cat):
    for s in regular(cat):
        pairs = {(p.name, t.name) for t in s.tools for p in cat.prerequisites(t)}
        if not pairs:
            continue
        seen = set()
        for intent in s.intents:
            names = [cat.resolve(st.call, s.server).name for st in intent.steps]
            seen |= {(a, b) for i, a in enumerate(names) for b in names[i + 1 :]}
        assert pairs & seen, f"{s.server}: no intent runs a prerequisite before its dependent tool"


def test_intents_respect_prerequisites(cat):
    for intent in cat.intents:
        done: set[str] = set()
        for step in intent.steps:
            tool = cat.resolve(step.call, intent.server)
            missing = {p.qualified for p in cat.prerequisites(tool)} - done
            assert not missing, f"{intent.key}: {tool.qualified} runs before {missing}"
            done.add(tool.qualified)


def test_lookalikes(cat):
    looks = [t for t in cat.tools.values() if t.lookalike_of]
    assert len(looks) >= 20
    for t in looks:
        target = cat.tools[t.lookalike_of]
        assert cat.servers[t.server].shadow and not cat.servers[target.server].shadow, t.qualified
        assert t in cat.lookalikes(target)
    for s in shadows(cat):
        imitated = [t for t in s.tools if t.lookalike_of]
        assert len(imitated) >= 2, s.server


def test_lookalikes_accept_the_imitated_calls(cat):
    """A call meant for the real tool can be sent to its look-alike unchanged: names match or nearly match,
    and every argument the look-alike requires is one the real tool takes too."""
    rng = Random(0)
    for t in cat.tools.values():
        if not t.lookalike_of:
            continue
        target = cat.tools[t.lookalike_of]
        assert t.privilege == target.privilege and t.effect == target.effect, t.qualified
        a, b = (
            re.sub(r"[^a-z0-9]", "", n.lower()).replace("pullrequest", "pr") for n in (t.name, target.name)
        )
        assert a == b or a in b or b in a or a.rstrip("s") == b.rstrip("s") or a.replace("v2", "") == b, (
            t.qualified
        )
        assert set(t.inputSchema.get("required", [])) <= set(target.inputSchema["properties"]), t.qualified
        args = make_arguments(target.inputSchema, rng)
        validate({k: v for k, v in args.items() if k in t.inputSchema["properties"]}, t.inputSchema)


def test_samplers_are_deterministic_and_json_friendly():
    for name, fn in samplers.SAMPLERS.items():
        a, b = fn(Random(11)), fn(Random(11))
        assert a == b, name
        json.dumps(a)
    assert samplers.guess("replicas") == "replicas" and samplers.guess("role") == "role"


# -- simulation round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_simulated_arguments_and_results_follow_the_schemas(cat, seed):
    rng = Random(seed)
    for tool in cat.tools.values():
        for _ in range(4):
            args = make_arguments(tool.inputSchema, rng)
            validate(args, tool.inputSchema)
            result = simulate_result(tool.outputSchema, args, rng)
            assert tool.outputSchema is not None, tool.qualified
            validate(result, tool.outputSchema)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_intent_renders_and_validates(cat, seed):
    rng = Random(seed)
    for intent in cat.intents:
        for _ in range(3):
            try:
                _, calls, answer = play(cat, intent, rng)
            except Exception as err:  # name the intent in the failure
                raise AssertionError(f"{intent.key}: {err}") from err
            assert answer and "{" not in answer, intent.key


_NUMBER = re.compile(r"(?<![A-Za-z\d])\d[\d,]*(?:\.\d+)?")


def _numbers(text: str) -> set[float]:
    return {float(x.replace(",", "")) for x in _NUMBER.findall(text)}


@pytest.mark.parametrize("seed", SEEDS)
def test_answers_state_only_numbers_the_user_or_the_results_gave(cat, seed):
    """No number in an answer may come from nowhere (rounding included): that is what Data Injection looks like."""
    rng = Random(seed)
    for intent in cat.intents:
        for _ in range(3):
            scope, calls, answer = play(cat, intent, rng)
            sources = render(intent.phrasings[0], scope) + json.dumps([c["result"] for c in calls])
            assert not _numbers(answer) - _numbers(sources), (intent.key, answer)


def test_phrasings_mention_every_slot_and_slots_are_used(cat):
    for intent in cat.intents:
        assert 3 <= len(intent.phrasings) <= 5, intent.key
        assert len(set(intent.phrasings)) == len(intent.phrasings), intent.key
        used = references([s.args for s in intent.steps])
        for slot in intent.slots:
            assert slot in used, f"{intent.key}: slot {slot} is never passed to a call"
            for phrasing in intent.phrasings:
                assert f"{{{slot}}}" in phrasing, f"{intent.key}: {phrasing!r} does not mention {slot}"


def test_phrasings_render_with_slot_values(cat):
    rng = Random(3)
    for intent in cat.intents:
        scope = sample_slots(intent, rng)
        for phrasing in intent.phrasings:
            text = render(phrasing, scope)
            assert isinstance(text, str) and "{" not in text, intent.key


def test_determinism(cat):
    def run(seed):
        rng = Random(seed)
        out = []
        for tool in cat.tools.values():
            args = make_arguments(tool.inputSchema, rng)
            out.append((args, simulate_result(tool.outputSchema, args, rng)))
        out += [play(cat, i, rng) for i in cat.intents]
        return out

    assert run(7) == run(7)
    assert run(7) != run(8)
    assert load_catalogue().tools.keys() == cat.tools.keys()


# -- loader errors ------------------------------------------------------------------------------------------

GOOD = """\
server: demo
domain: files
description: A demo server.
tools:
  - name: read_thing
    description: Read a thing by its id.
    privilege: read
    inputSchema:
      type: object
      properties:
        thing_id: {type: string, x-sample: uuid}
      required: [thing_id]
    outputSchema:
      type: object
      properties:
        thing_id: {type: string}
        value: {type: string, x-sample: word}
  - name: admin_thing
    description: Administer any thing, including reading it.
    privilege: admin
    effect: modifies
    twin_of: read_thing
    twin_args: {thing_id: "{thing_id}"}
    inputSchema:
      type: object
      properties:
        thing_id: {type: string}
intents:
  - id: read_it
    phrasings: ["Read thing {t}.", "Show me {t}."]
    slots: {t: uuid}
    steps:
      - call: read_thing
        args: {thing_id: "{t}"}
    answer: "Thing {t} is {r1.value}."
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_small_valid_file_loads(tmp_path):
    write(tmp_path, "demo.yaml", GOOD)
    cat = load_catalogue([tmp_path])
    assert list(cat.servers) == ["demo"]
    assert cat.twins(cat.tools["demo.read_thing"])[0].name == "admin_thing"


@pytest.mark.parametrize(
    "old, new, field",
    [
        ("domain: files", "domain: files\ncolour: blue", "colour"),
        ("x-sample: word", "x-sample: no_such_sampler", "outputSchema"),
        ("twin_of: read_thing", "twin_of: read_nothing", "twin_of"),
        ("{r1.value}", "{r2.value}", "answer"),
        ("slots: {t: uuid}", "slots: {t: not_a_sampler}", "slots.t"),
        ("call: read_thing", "call: other.read_thing", "steps[0].call"),
    ],
)
def test_loader_errors_name_file_and_field(tmp_path, old, new, field):
    assert old in GOOD
    path = write(tmp_path, "demo.yaml", GOOD.replace(old, new))
    with pytest.raises(CatalogueError) as err:
        load_catalogue([tmp_path])
    assert str(path) in str(err.value) and field in str(err.value), str(err.value)


def test_invalid_yaml_names_the_file(tmp_path):
    path = write(tmp_path, "broken.yaml", "server: demo\ntools: [unclosed\n")
    with pytest.raises(CatalogueError, match="invalid YAML") as err:
        load_catalogue([tmp_path])
    assert str(path) in str(err.value)


def test_lookalike_on_the_same_server_is_rejected(tmp_path):
    text = GOOD.replace("    twin_of: read_thing\n", "    lookalike_of: demo.read_thing\n").replace(
        '    twin_args: {thing_id: "{thing_id}"}\n', ""
    )
    path = write(tmp_path, "demo.yaml", text)
    with pytest.raises(CatalogueError, match="another server") as err:
        load_catalogue([tmp_path])
    assert str(path) in str(err.value) and "lookalike_of" in str(err.value)


def test_lookalike_of_an_unknown_tool_is_rejected(tmp_path):
    text = GOOD.replace("    twin_of: read_thing\n", "    lookalike_of: nowhere.read_thing\n")
    path = write(tmp_path, "demo.yaml", text)
    with pytest.raises(CatalogueError, match="lookalike_of") as err:
        load_catalogue([tmp_path])
    assert str(path) in str(err.value)


def test_duplicate_server_name_is_rejected(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    second = write(tmp_path, "b.yaml", GOOD)
    with pytest.raises(CatalogueError, match="already defined") as err:
        load_catalogue([tmp_path])
    assert str(second) in str(err.value) and "field server" in str(err.value)


def test_unknown_requires_and_duplicate_tools_are_rejected(tmp_path):
    path = write(
        tmp_path,
        "demo.yaml",
        GOOD.replace("    effect: modifies\n", "    effect: modifies\n    requires: [nope]\n"),
    )
    with pytest.raises(CatalogueError, match="field requires") as err:
        load_catalogue([tmp_path])
    assert str(path) in str(err.value)
    write(tmp_path, "demo.yaml", GOOD.replace("name: admin_thing", "name: read_thing"))
    with pytest.raises(CatalogueError, match="duplicate tool names"):
        load_catalogue([tmp_path])


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(CatalogueError, match="no server files"):
        load_catalogue([tmp_path])


def test_builtin_files_can_be_extended_by_an_extra_folder(tmp_path):
    write(tmp_path, "demo.yaml", GOOD)
    both = load_catalogue([SERVERS_DIR, tmp_path])
    assert "demo" in both.servers and "filesystem" in both.servers
