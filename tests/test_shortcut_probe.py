"""The shortcut probe's learning curve: each point is the probe a single-size run would give, from one rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.shortcut_probe import probe

# the data recipe the training tests build from
SMALL_RECIPE = Path(__file__).resolve().parents[1] / "recipes/data/small.yaml"


@pytest.fixture(scope="module")
def probe_data(tmp_path_factory, tiny_model_dir):
    """A small dataset with both test splits, and a recipe that renders with the tiny model's tokenizer."""
    from data_gen.build import build
    from data_gen.recipe import load_recipe

    tmp = tmp_path_factory.mktemp("probe")
    sizes = ["--train_size", "60", "--validation_size", "4", "--test_size", "24", "--test_unseen_size", "24"]
    build(
        load_recipe(SMALL_RECIPE, ["--output_dir", str(tmp / "ds"), "--num_proc", "1", *sizes]),
        progress=False,
    )
    recipe = tmp / "recipe.yaml"
    recipe.write_text(f"model_name_or_path: {tiny_model_dir}\nprompt_style: compact\nlog_budget: 400\n")
    return str(tmp / "ds"), str(recipe)


def test_curve_points_equal_single_size_runs(probe_data):
    data, recipe = probe_data
    curve = probe(data, recipe=recipe, curve=[40, 20, 60], eval_n=16)
    assert list(curve["curve"]) == ["20", "40", "60"]  # sorted, whatever order they were asked in
    single = {n: probe(data, max_train=n, recipe=recipe, eval_n=16)["splits"] for n in (20, 60)}
    for n, splits in single.items():
        assert {s: v["macro_f1"] for s, v in splits.items()} == curve["curve"][str(n)]
    assert curve["splits"] == single[60]  # the largest size's whole scores, per class included
    assert {v["n"] for v in curve["splits"].values()} == {16}


def test_curve_past_the_train_split_names_the_data(probe_data):
    data, recipe = probe_data
    with pytest.raises(SystemExit, match=f"{data} has 60 train records, fewer than 100"):
        probe(data, recipe=recipe, curve=[20, 100])
