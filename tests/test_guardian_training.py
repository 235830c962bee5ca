"""The cheap training step and the long run that survives interruption (train/trainer.py, train/data.py,
train/ship.py): the answer-only head computes the model's own loss, cached prompts are TRL's tokens, a run killed
mid-save resumes to the same weights as one never killed, and a shipped guardian warm-starts a run."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from mcip.prompt import PromptFormat
from tests.conftest import launch, log_history, ok, train_env


def _batch(tok, dataset, n=3):
    from datasets import load_from_disk

    from train.data import prepare_tokenized

    split = load_from_disk(str(dataset))["validation"].select(range(n))
    rows = prepare_tokenized(split, tok, PromptFormat("compact", 200), 4096, None)
    longest = max(len(r) for r in rows["input_ids"])
    ids = torch.full((n, longest), tok.pad_token_id or 0)
    labels = torch.full((n, longest), -100)
    mask = torch.zeros((n, longest), dtype=torch.long)
    for i, (x, y) in enumerate(zip(rows["input_ids"], rows["labels"])):
        ids[i, : len(x)], labels[i, : len(y)], mask[i, : len(x)] = torch.tensor(x), torch.tensor(y), 1
    return ids, labels, mask


def test_answer_only_head_gives_the_models_own_loss_and_gradients(tiny_model_dir, dataset, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.trainer import add_answer_head

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids, labels, mask = _batch(tok, dataset)
    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    reference = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    reference.backward()
    want = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad()
    add_answer_head(model.get_base_model())
    loss = model(input_ids=ids, attention_mask=mask, labels=labels, answer_only=True).loss
    loss.backward()
    assert loss.item() == pytest.approx(reference.item(), rel=1e-5)
    for name, grad in want.items():
        torch.testing.assert_close(dict(model.named_parameters())[name].grad, grad, rtol=1e-4, atol=1e-6)
    # without the flag the forward is the model's own (generation is unchanged)
    plain = model(input_ids=ids, attention_mask=mask).logits
    assert plain.shape[:2] == ids.shape


def test_cached_prompts_are_trls_own_tokens_and_the_key_follows_the_format(
    tiny_model_dir, dataset, tmp_path, monkeypatch
):
    from datasets import load_from_disk
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from train.data import cache_dir, prepare, prepare_tokenized

    monkeypatch.setenv("MCIP_CACHE", str(tmp_path / "cache"))
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    split = load_from_disk(str(dataset))["validation"].select(range(5))
    fmt = PromptFormat("compact", 200)
    ours = prepare_tokenized(split, tok, fmt, 4096, None)
    args = SFTConfig(
        output_dir=str(tmp_path / "x"), use_cpu=True, bf16=False, report_to="none", max_length=4096
    )
    trl = SFTTrainer(
        model=str(tiny_model_dir),
        args=args,
        train_dataset=prepare(split, tok, fmt, 4096, None),
        processing_class=tok,
    ).train_dataset
    assert ours["input_ids"] == trl["input_ids"]
    assert ours["labels"] == trl["labels"]
    assert ours["length"] == [len(x) for x in trl["input_ids"]]
    files = sorted((cache_dir() / "prompts").glob("*.arrow"))
    assert len(files) == 1
    again = prepare_tokenized(split, tok, fmt, 4096, None)  # read back, not rendered again
    assert again["input_ids"] == ours["input_ids"] and again.cache_files[0]["filename"] == str(files[0])
    prepare_tokenized(split, tok, PromptFormat("full", 200), 4096, None)
    prepare_tokenized(split.select(range(4)), tok, fmt, 4096, None)
    assert len(list((cache_dir() / "prompts").glob("*.arrow"))) == 3  # another format, other data: other keys


def test_an_edit_to_the_renderer_never_brings_back_stale_prompts(
    tiny_model_dir, dataset, tmp_path, monkeypatch
):
    """The cache key covers the renderer's code, and so must the maps under it: datasets caches a map by the mapped
    function and its arguments, not by the renderer that function calls, and once handed a whole run the renderings
    of the code before an edit (a saved dataset keeps those map caches beside its files)."""
    from datasets import Dataset, load_from_disk
    from transformers import AutoTokenizer

    import mcip.prompt
    import train.data
    from mcip.record import Trajectory
    from tests.test_long_logs import inflate

    monkeypatch.setenv("MCIP_CACHE", str(tmp_path / "cache"))
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    base = load_from_disk(str(dataset))["validation"].select(range(3))
    rows = [
        {**r, "trajectory": inflate(Trajectory.model_validate_json(r["trajectory"])).to_json()} for r in base
    ]
    Dataset.from_list(rows).save_to_disk(tmp_path / "saved")
    split = load_from_disk(str(tmp_path / "saved"))  # on disk: datasets keeps its map caches beside it
    fmt = PromptFormat("compact", 300)
    before = train.data.prepare_tokenized(split, tok, fmt, 4096, None)["input_ids"]
    key = train.data.cache_key
    monkeypatch.setattr(train.data, "cache_key", lambda *a: key(*a)[:-4] + "edit")  # the code hash moved...
    monkeypatch.setattr(
        mcip.prompt, "TRUNCATION_PREFIX", "Note: shortened: "
    )  # ...because the renderer changed
    after = train.data.prepare_tokenized(split, tok, fmt, 4096, None)["input_ids"]
    assert all(a != b for a, b in zip(before, after)), "a stale rendering came back from a datasets map cache"


def _run(model, data, out, *args, env=None):
    return launch(
        model, data, out, "--max_steps", "6", "--save_steps", "2", "--eval_strategy", "no",
        "--answer_only_logits", "true", "--train_sampling_strategy", "group_by_length", *args, env=env,
    )  # fmt: skip


def _adapter(folder):
    return load_file(folder / "adapter_model.safetensors")


@pytest.mark.slow
def test_a_run_killed_mid_save_resumes_to_the_weights_of_an_uninterrupted_one(
    tiny_model_dir, dataset, tmp_path
):
    whole = tmp_path / "whole"
    ok(_run(tiny_model_dir, dataset, whole))
    cut = tmp_path / "cut"
    killed = _run(tiny_model_dir, dataset, cut, env=train_env(tmp_path, MCIP_KILL_DURING_SAVE="4"))
    assert killed.returncode != 0
    assert (cut / "checkpoint-4").is_dir() and not (cut / "checkpoint-4/mcip_checkpoint.json").exists()
    resumed = ok(_run(tiny_model_dir, dataset, cut))
    text = resumed.stdout + resumed.stderr
    assert "checkpoint-4: its save never finished" in text and "resuming from" in text
    assert "checkpoint-2" in text.split("resuming from", 1)[1].splitlines()[0]
    assert list((cut / "incomplete").iterdir())  # the unfinished save is set aside, not deleted
    # same data order, same optimizer and scheduler: the same losses step by step, and the same final weights
    want = {e["step"]: e["loss"] for e in log_history(whole) if "loss" in e}
    got = {e["step"]: e["loss"] for e in log_history(cut) if "loss" in e}
    assert got.keys() == want.keys() == set(range(1, 7))
    assert got == pytest.approx(want, rel=1e-4)
    a, b = _adapter(whole), _adapter(cut)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6)
    marker = json.loads((cut / "checkpoint-6/mcip_checkpoint.json").read_text())
    assert marker["step"] == 6 and len(marker["sittings"]) == 2 and marker["train_seconds"] > 0


@pytest.mark.slow
def test_a_shipped_guardian_warm_starts_a_run_whose_checkpoints_are_gone(tiny_model_dir, dataset, tmp_path):
    from mcip.calibration import Calibration
    from train.ship import main as ship_main

    run = tmp_path / "run"
    ok(_run(tiny_model_dir, dataset, run, "--max_steps", "4"))
    cal = Calibration(0.5, {"replay_function": -1.0}, {"data": "d", "split": "validation", "n": 9})
    cal.save(run / "checkpoint-4")  # what make guardian-ship fits before it evaluates
    shipped = tmp_path / "guardians" / "tiny"
    assert ship_main(["--run", str(run), "--out", str(shipped), "--base", str(tiny_model_dir)]) == 0
    assert Calibration.load(shipped) == cal and "unsafe bias +0.50" in (shipped / "README.md").read_text()
    weights = _adapter(shipped)
    assert all(v.dtype == torch.bfloat16 for v in weights.values())
    assert json.loads((shipped / "trainer_state.json").read_text())["global_step"] == 4
    shutil.rmtree(run)  # runs/ did not survive the sitting
    proc = ok(_run(tiny_model_dir, dataset, run, "--max_steps", "6", "--warm_start", str(shipped)))
    assert "warm start from" in proc.stdout + proc.stderr
    steps = [e["step"] for e in log_history(run) if "loss" in e]
    assert steps[-2:] == [5, 6] and 4 in steps  # the shipped history, then the new steps
    assert Calibration.load(run / "checkpoint-6") is None  # a further-trained model is another model
    # the schedule continues where the shipped run stopped, not from its warm-up
    whole = tmp_path / "whole"
    ok(_run(tiny_model_dir, dataset, whole, "--max_steps", "6"))
    lr = {e["step"]: e["learning_rate"] for e in log_history(run) if "loss" in e}
    want = {e["step"]: e["learning_rate"] for e in log_history(whole) if "loss" in e}
    assert lr[5] == pytest.approx(want[5]) and lr[6] == pytest.approx(want[6])
    trained = _adapter(run)
    assert any(not torch.equal(trained[k].to(torch.bfloat16), weights[k]) for k in weights)


def test_the_data_order_of_a_block_does_not_depend_on_how_many_blocks_follow():
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from train.trainer import BlockLengthGroupedSampler

    lengths = [int(n) for n in torch.randint(50, 900, (300,), generator=torch.Generator().manual_seed(0))]

    def order(sampler, seed=7):
        torch.manual_seed(seed)  # the trainer's set_seed: the global generator the first block draws from
        return list(sampler)

    one = order(LengthGroupedSampler(4, lengths=lengths[:100]))  # transformers' order for a run of one block
    two = order(BlockLengthGroupedSampler(4, lengths[:200], 100, seed=42))
    three = order(BlockLengthGroupedSampler(4, lengths[:300], 100, seed=42))
    assert two[:100] == one  # the first block: exactly the order the run had before it was extended
    assert three[:200] == two  # each block keeps its place and order when more follow
    assert sorted(two[100:]) == list(range(100, 200))  # the new block holds the new rows, each once
    assert order(BlockLengthGroupedSampler(4, lengths[:200], 100, seed=42), seed=8)[100:] == two[100:]
    batches = [two[i : i + 4] for i in range(100, 200, 4)]  # still grouped by length: batches pad little
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 0.25 * (max(lengths) - min(lengths))


def _block_run(model, data, out, rows: int):
    return _run(
        model, data, out, "--max_steps", "-1", "--num_train_epochs", "1", "--max_train_samples", str(rows),
        "--data_block", "8", "--lr_scheduler_type", "constant", "--warmup_steps", "0",
    )  # fmt: skip


@pytest.mark.slow
def test_a_finished_run_given_more_rows_goes_on_with_exactly_the_new_ones(tiny_model_dir, dataset, tmp_path):
    """One block (8 rows, 2 steps of 4), then the run is given a second block: it resumes at step 2 and trains the
    new rows, as a run planned for both blocks from the start does (same losses step by step, same weights)."""
    run = tmp_path / "run"
    ok(_block_run(tiny_model_dir, dataset, run, 8))
    again = ok(_block_run(tiny_model_dir, dataset, run, 8))
    assert "has trained all 2 planned steps (8 training rows): nothing to do" in again.stdout + again.stderr
    assert not (run / "checkpoint-3").exists()
    ok(_block_run(tiny_model_dir, dataset, run, 16))
    whole = tmp_path / "whole"
    ok(_block_run(tiny_model_dir, dataset, whole, 16))
    got = {e["step"]: e["loss"] for e in log_history(run) if "loss" in e}
    want = {e["step"]: e["loss"] for e in log_history(whole) if "loss" in e}
    assert got.keys() == want.keys() == {1, 2, 3, 4}
    assert got == pytest.approx(want, rel=1e-4)
    a, b = _adapter(run), _adapter(whole)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6)


def test_ship_refuses_an_unfinished_checkpoint_with_a_clear_message(tmp_path, capsys):
    from train.ship import main as ship_main

    (tmp_path / "checkpoint-3").mkdir(parents=True)
    (tmp_path / "checkpoint-3/adapter_model.safetensors").write_bytes(b"")
    code = ship_main(["--checkpoint", str(tmp_path / "checkpoint-3"), "--out", str(tmp_path / "g")])
    assert code == 2 and "its save never finished" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()


def _shipped(folder, step: int, base: str, fill: float):
    """A shipped guardian folder at ``step``: an adapter (every weight ``fill``), its config and trainer state."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    save_file({"w": torch.full((2, 2), fill)}, folder / "adapter_model.safetensors")
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base}))
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    (folder / "mcip_checkpoint.json").write_text(json.dumps({"step": step, "train_seconds": 10.0 * step}))
    return folder


def test_a_warm_start_takes_the_furthest_trained_of_the_shipped_and_the_saved_folder(tmp_path):
    """The vetted guardian and the run's saved resume point (make guardian-save) live apart; a new sitting goes on
    from whichever is further, in either order, and a folder that is missing or incomplete is passed over."""
    from train.trainer import warm_start

    base = str(tmp_path / "base")
    vetted = _shipped(tmp_path / "guardians/g", 375, base, 1.0)
    saved = _shipped(tmp_path / "guardians/g-latest", 700, base, 2.0)
    (tmp_path / "guardians/half").mkdir()  # an adapter without its trainer state cannot seed a run
    (tmp_path / "guardians/half/adapter_model.safetensors").write_bytes(b"")
    for order in ([vetted, saved], [saved, vetted]):
        run = tmp_path / f"run-{order[0].name}"
        names = ",".join(str(p) for p in [tmp_path / "guardians/half", *order, tmp_path / "missing"])
        got = warm_start(run, names, base)
        assert got == run / "checkpoint-700"
        assert torch.equal(_adapter(got)["w"], torch.full((2, 2), 2.0))
        marker = json.loads((got / "mcip_checkpoint.json").read_text())
        assert marker["warm_start"] == str(saved) and marker["train_seconds"] == 7000.0
    # once the vetted guardian is shipped past the saved point, the run goes on from it
    newer = _shipped(tmp_path / "guardians/g2", 750, base, 3.0)
    assert warm_start(tmp_path / "run2", [saved, newer], base) == tmp_path / "run2/checkpoint-750"
    assert warm_start(tmp_path / "run3", f"{tmp_path / 'missing'},", base) is None


def test_a_saved_resume_point_says_on_its_card_which_guardian_to_guard_with(tmp_path, monkeypatch):
    from train.ship import main as ship_main

    monkeypatch.chdir(tmp_path)
    ckpt = _shipped(tmp_path / "run/checkpoint-700", 700, "models/smollm2-135m-instruct", 0.5)
    out = tmp_path / "guardians/g-latest"
    argv = ["--checkpoint", str(ckpt), "--out", str(out), "--resume-point-for", "guardians/g"]
    assert ship_main(argv) == 0  # its line has no vetted guardian yet: the card does not point at one
    assert (
        "**Not a guardian to guard with: no vetted guardian of this run (`guardians/g`) is shipped yet.**"
        in (out / "README.md").read_text()
    )
    (tmp_path / "guardians/g").mkdir()
    assert ship_main(argv) == 0
    text = (out / "README.md").read_text()
    assert text.startswith("# g-latest\n\n**Not a guardian to guard with: use `guardians/g`.**")
    assert "Not evaluated when shipped." in text and _adapter(out)["w"].dtype == torch.bfloat16
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 700


def _eval_metrics(split: str, protocol: str, f1: float) -> dict:
    """The fields of a train.evaluate metrics.json that the shipped card reads."""
    return {
        "split": split,
        "protocol": protocol,
        "mode": "fast" if protocol == "guardian" else "generate",
        "n": 1000,
        "risk_resistance": {"macro_f1": f1, "accuracy": 0.5},
        "safety_awareness": {"macro_f1": 0.6},
        "parse_failure_rate": 0.0 if protocol == "guardian" else 0.25,
        "baselines": {"majority": {"risk_resistance": {"macro_f1": 0.048}}},
    }


def test_a_guardian_ships_with_both_protocols_and_the_target_reads_the_guardian_one(tmp_path):
    from train.ship import ShipError, card, metrics_names

    metrics = [_eval_metrics(s, p, f1) for s, p, f1 in [("test", "guardian", 0.8), ("test_unseen", "guardian", 0.76),
                                                       ("test", "paper", 0.3), ("test_unseen", "paper", 0.2)]]  # fmt: skip
    paths = [tmp_path / f"{m['split']}-{m['protocol']}" / "metrics.json" for m in metrics]
    assert metrics_names(metrics, paths) == [
        "metrics_test.json",
        "metrics_test_unseen.json",
        "metrics_test_paper.json",
        "metrics_test_unseen_paper.json",
    ]
    text = card("g", {}, {}, metrics, None)
    assert "| test_unseen | paper, generate | 1000 | 0.200 |" in text and "| 0.250 |" in text
    # the target is judged on the guardian protocol's unseen score (0.76), not the paper one listed after it (0.2)
    assert "reached (0.760" in text
    with pytest.raises(ShipError, match="two evaluations of the same split and protocol"):
        metrics_names([metrics[1], metrics[1]], [paths[1], tmp_path / "again.json"])


def test_a_stream_guardians_card_says_how_it_was_read_and_on_which_data():
    """A stream guardian is read per call in its fast mode and calibrated on that reading: its card says so, and
    names the data it was measured on (short sessions here), not the default recipe's."""
    from mcip.calibration import Calibration
    from train.ship import card

    metrics = [{**_eval_metrics(s, "guardian", 0.3), "read": "per call", "data": "data/mcip-short"}
               for s in ("test", "test_unseen")]  # fmt: skip
    fitted = {"predictions": "p.jsonl", "n": 300, "read": "per call", "positions": 2100}
    text = card("g", {}, {}, metrics, None, calibration=Calibration(0.5, {}, fitted), stream=True)
    assert "| test_unseen | guardian, fast (per call) | 1000 | 0.300 |" in text
    assert "call by call" in text and "every call of each log in one pass" in text
    assert "300 logs (2100 calls and answers, read per call)" in text and "`data/mcip-short`" in text
    one_shot = card("g", {}, {}, [_eval_metrics("test", "guardian", 0.3)], None)
    assert "per call" not in one_shot and "call by call" not in one_shot and "`data/mcip-synth`" in one_shot


@pytest.mark.slow
def test_frozen_bf16_base_trains_fp32_adapters_on_a_bf16_base(tiny_model_dir, dataset, tmp_path):
    """Forced here (this CPU may lack native bf16, where auto keeps float32): the base loads in bf16, the adapters
    stay float32, and the run records it."""
    out = tmp_path / "bf16base"
    proc = ok(_run(tiny_model_dir, dataset, out, "--max_steps", "2", "--frozen_bf16_base", "true"))
    assert "frozen bf16 base, float32 LoRA adapters" in proc.stdout + proc.stderr
    meta = json.loads((out / "mcip_run.json").read_text())
    assert meta["precision"]["frozen_bf16_base"] is True and meta["precision"]["bf16"] is False
    weights = _adapter(out)
    assert weights and all(v.dtype == torch.float32 for v in weights.values())
    assert any("lora_B" in k and v.abs().sum() > 0 for k, v in weights.items())


def test_the_card_counts_answers_that_named_no_class_not_only_parse_failures(default_records):
    """A guardian that answers a bare "unsafe" to the paper's question parses every time and names no class: the
    card must say so, not show 0.000 unparsable beside an RR of 0."""
    from train.metrics import Prediction, baselines, compute_metrics
    from train.ship import _metrics_row

    labels = [r.label for r in default_records[:20]]
    preds = [Prediction.from_answer(str(i), lb, "unsafe\nunsafe") for i, lb in enumerate(labels)]
    preds[0] = Prediction.from_answer("0", labels[0], "no idea")  # one that does not parse at all
    m = compute_metrics(preds) | {"split": "test", "protocol": "paper", "baselines": baselines(preds, False)}
    cells = [c.strip() for c in _metrics_row(m).strip("|").split("|")]
    assert cells[8:10] == ["0.050", "1.000"]  # unparsable: one of twenty; no class named: all twenty
