"""The dataset build: splits, held-out servers, determinism, records, card, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from data_gen.build import GenerationError, build, make_sides
from data_gen.catalogue import builtin_catalogue
from data_gen.recipe import RecipeError, load_recipe
from mcip.flows import ends_with_proposed_call, flags
from mcip.record import load_jsonl
from mcip.taxonomy import LABEL_STRINGS
from mcip.verdict import parse_verdict

REPO = Path(__file__).resolve().parents[1]
HOLDOUT = ["health-records", "vault", "travel", "smart-home", "crm", "weather", "lms", "kube"]
SIZES = ["--train_size", "700", "--validation_size", "60", "--test_size", "120", "--test_unseen_size", "150"]


def _recipe(out: Path, *extra: str):
    return load_recipe(REPO / "recipes/data/small.yaml", ["--output_dir", str(out), *SIZES, *extra])


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "ds"
    build(_recipe(out), progress=False)
    return out


def _splits(path: Path):
    from datasets import load_from_disk

    return load_from_disk(str(path))


def test_splits_sizes_labels_and_columns(built):
    data = _splits(built)
    assert {s: len(data[s]) for s in data} == {
        "train": 700,
        "validation": 60,
        "test": 120,
        "test_unseen": 150,
    }
    train = data["train"]
    assert set(train.column_names) >= {
        "id",
        "label",
        "trajectory",
        "prompt",
        "completion",
        "kind",
        "rationale",
    }
    counts = Counter(train["label"])
    assert set(counts) == set(LABEL_STRINGS), "every label is represented"
    assert 0.25 < counts["true"] / len(train) < 0.43  # about a third
    assert min(counts[lb] for lb in LABEL_STRINGS if lb != "true") >= 25  # no class starved
    kinds = Counter(train["kind"])
    assert sum(v for k, v in kinds.items() if train["source"][train["kind"].index(k)] == "hard_negative") > 60


def test_no_duplicates_within_or_across_splits(built):
    data = _splits(built)
    ids = [i for s in data for i in data[s]["id"]]
    prompts = [json.dumps(p) for s in data for p in data[s]["prompt"]]
    assert len(ids) == len(set(ids)) and len(prompts) == len(set(prompts))


def test_test_unseen_uses_only_held_out_servers(built):
    data = _splits(built)
    cat = builtin_catalogue()
    sides = make_sides(cat, _recipe(built), [])
    unseen = set(sides["unseen"].cat.servers)
    seen_tools = set()
    for split in ("train", "validation", "test"):
        for row in data[split]:
            traj = json.loads(row["trajectory"])
            servers = {t.get("server") for t in traj["tools"]}
            assert not servers & unseen, (split, servers & unseen)
            seen_tools |= {t["name"] for t in traj["tools"]}
    for row in data["test_unseen"]:
        traj = json.loads(row["trajectory"])
        catalogue_servers = {t.get("server") for t in traj["tools"]} & set(cat.servers)
        assert catalogue_servers <= unseen, catalogue_servers - unseen
    unseen_tools = {t["name"] for row in data["test_unseen"] for t in json.loads(row["trajectory"])["tools"]}
    shared = unseen_tools & seen_tools
    assert len(shared) / len(unseen_tools) < 0.1, (
        shared
    )  # only generic names (e.g. a look-alike "search") repeat


def test_every_record_is_valid_rendered_and_consistent(built):
    for split in ("train", "test_unseen"):
        records = load_jsonl(built / "jsonl" / f"{split}.jsonl")
        rows = _splits(built)[split]
        proposed = 0
        for traj, row in zip(records, rows):
            assert traj.id == row["id"] and traj.label == row["label"]
            assert flags(traj) == [], (traj.id, [str(f) for f in flags(traj)])
            assert "{" not in row["rationale"].split("'")[0] or "{flow" not in row["rationale"]
            verdict = parse_verdict(row["completion"][0]["content"])
            assert verdict.ok and verdict.label == row["label"]
            assert row["prompt"][0]["role"] == "system" and row["prompt"][1]["role"] == "user"
            proposed += ends_with_proposed_call(traj)
            assert row["proposed_call"] == ends_with_proposed_call(traj)
        assert 0.12 < proposed / len(records) < 0.35


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_the_same_bytes_fast(tmp_path):
    """The quick loop's determinism check (two workers, rebuilt in place); the full-size one is slow."""
    small = ["--train_size", "40", "--validation_size", "0", "--test_size", "0", "--test_unseen_size", "20"]
    out = tmp_path / "small"
    build(_recipe(out, *small), progress=False)
    before = _files(out)
    build(_recipe(out, *small), progress=False)
    assert _files(out) == before and any(name.startswith("jsonl/") for name in before)


@pytest.mark.slow  # two more builds of the 1030-record dataset
def test_same_seed_gives_byte_identical_output(built, tmp_path):
    again = tmp_path / "ds"
    before = _files(built)
    build(_recipe(built), progress=False)  # rebuild in place: atomic replace of the same path
    assert _files(built) == before
    build(_recipe(again), progress=False)
    for path in sorted(p for p in built.rglob("*") if p.is_file()):
        other = again / path.relative_to(built)
        if path.name in ("README.md", "recipe.json"):  # they name the output dir
            continue
        assert path.read_bytes() == other.read_bytes(), path.relative_to(built)


def test_another_seed_gives_other_data(built, tmp_path):
    build(
        _recipe(
            tmp_path / "s2",
            "--seed",
            "99",
            "--train_size",
            "50",
            "--validation_size",
            "0",
            "--test_size",
            "0",
            "--test_unseen_size",
            "0",
        ),
        progress=False,
    )
    ids = set(_splits(tmp_path / "s2")["train"]["id"])
    assert not ids & set(_splits(built)["train"]["id"])


def test_card_metadata_and_counts(built):
    card = (built / "README.md").read_text()
    assert card.startswith("---\n")
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["license"] == "apache-2.0" and "mcp" in meta["tags"]
    assert [c["split"] for c in meta["configs"][0]["data_files"]] == [
        "train",
        "validation",
        "test",
        "test_unseen",
    ]
    stats = json.loads((built / "stats.json").read_text())
    assert stats["train"]["labels"]["true"] == Counter(_splits(built)["train"]["label"])["true"]
    assert "| **total** | 700 | 60 | 120 | 150 |" in card
    assert "ignore_prupose_prompt_injection" in card


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--train_sizee", "10"], "field train_sizee: unknown key"),
        (["--train_size", "-5"], "train_size must be >= 0"),
        (["--label_weights", "{prompt_injection: 1}"], "unknown label(s) ['prompt_injection']"),
        (["--prompt_style", "tiny"], "unknown prompt style 'tiny'"),
        (["--proposed_call_share", "1.5"], "field proposed_call_share: must be between 0 and 1"),
        (["--holdout_servers", "[]"], "test_unseen_size > 0 needs holdout_servers"),
        (["--train_size"], "expected --key value pairs"),
    ],
)
def test_bad_recipe_values_name_the_field(args, needle):
    with pytest.raises(RecipeError) as err:
        load_recipe(REPO / "recipes/data/small.yaml", args)
    where = "command line" if args == ["--train_size"] else "small.yaml"
    assert needle in str(err.value) and where in str(err.value)


def test_unknown_holdout_server_and_bad_catalogue_fail_cleanly(tmp_path):
    with pytest.raises(GenerationError, match=r"holdout_servers: unknown server\(s\) \['nope'\]"):
        build(_recipe(tmp_path / "x", "--holdout_servers", "[nope]"), progress=False)
    bad = tmp_path / "extra"
    bad.mkdir()
    (bad / "broken.yaml").write_text("server: broken\ndomain: x\ndescription: y\ntools: []\n")
    out = tmp_path / "never"
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "data_gen",
            "--config",
            str(REPO / "recipes/data/small.yaml"),
            "--output_dir",
            str(out),
            "--catalogues",
            f"[{bad}]",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert cli.returncode == 2
    assert "broken.yaml: field tools" in cli.stderr and "Traceback" not in cli.stderr
    assert not out.exists()  # nothing half-written


def test_cli_reports_a_bad_recipe_file_without_traceback(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("train_size: many\n")
    cli = subprocess.run(
        [sys.executable, "-m", "data_gen", "--config", str(recipe)], capture_output=True, text=True, cwd=REPO
    )
    assert (
        cli.returncode == 2 and f"{recipe}: field train_size" in cli.stderr and "Traceback" not in cli.stderr
    )
