"""The hidden-state probe reads what it says it reads: its last-token view is the state the LM head turns into the
guardian's first answer token, for the prompt the guardian itself renders."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def test_the_last_token_view_is_what_the_lm_head_reads(tiny_model_dir, default_records):
    from benchmarks.hidden_probe import VIEWS, features
    from mcip.guardian import load_guardian
    from mcip.scoring import encode, render_chat

    guardian = load_guardian(str(tiny_model_dir), progress=False, calibrate=False)
    trajs = default_records[:3]
    feats = features(guardian, [guardian.prompt(t) for t in trajs])
    assert set(feats) == set(VIEWS) and all(len(v) == 3 for v in feats.values())
    model, tok = guardian.backend.model, guardian.tokenizer
    for traj, last, mean in zip(trajs, feats["last_token"], feats["mean_last_layer"]):
        ids = torch.tensor([encode(tok, render_chat(tok, guardian.prompt(traj)))])
        with torch.inference_mode():
            logits = model(input_ids=ids).logits[0, -1]
            from_view = model.get_output_embeddings()(torch.from_numpy(last)[None].to(logits.dtype))[0]
        assert torch.allclose(from_view, logits, atol=1e-4)
        assert not torch.allclose(torch.from_numpy(mean), torch.from_numpy(last))  # pooled, not the last row
