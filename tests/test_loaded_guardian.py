"""One loaded guardian (``mcip.guardian``) below guard and train: the layers hold, one answer room, one budget rule,
and an endpoint guardian that never imports torch."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mcip.prompt import PROMPT_FILE, PromptFormat

REPO = Path(__file__).resolve().parents[1]


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(
    "package, forbidden",
    [("guard", {"train", "data_gen", "benchmarks"}), ("mcip", {"train", "data_gen", "guard", "benchmarks"})],
)
def test_the_layers_hold(package, forbidden):
    """The guard runs without the training package; the core library imports none of the packages above it."""
    for path in sorted((REPO / package).glob("*.py")):
        bad = _imported_packages(path) & forbidden
        assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"


ENDPOINT_SCRIPT = """
import json, sys
from tests.fake_llm import FakeChat, completion
from guard.guardian import Guardian
from mcip.examples import EXAMPLES
from mcip.prompting import ANSWER_ROOM

lines = "unsafe\\nChoice: E. Function Injection\\nRationale: flow 5 is not asked for."
with FakeChat(lambda k, body: (200, completion(lines))) as chat:
    g = Guardian(api_base=chat.url, api_model="fake-guardian")
    review = g.review_one(EXAMPLES["bmi-injected"]())
    sent = chat.requests[0][1]
print(json.dumps({
    "torch": "torch" in sys.modules,
    "transformers": "transformers" in sys.modules,
    "label": review.label,
    "flow": review.flow,
    "max_tokens": sent["max_tokens"],
    "answer_room": g.loaded.answer_room,
    "room_constant": ANSWER_ROOM,
}))
"""


def test_an_endpoint_guardian_never_imports_torch_and_generates_the_room_it_leaves():
    proc = subprocess.run(
        [sys.executable, "-c", ENDPOINT_SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["torch"] is False and out["transformers"] is False
    assert out["label"] == "function_injection" and out["flow"] == 5
    assert out["max_tokens"] == out["answer_room"] == out["room_constant"]


def test_a_local_guardian_reads_its_folder_once_and_leaves_the_answer_room(tiny_model_dir, tmp_path):
    from mcip.examples import EXAMPLES
    from mcip.guardian import load_guardian
    from mcip.prompting import ANSWER_ROOM, MARGIN, template_overhead

    g = load_guardian(str(tiny_model_dir), progress=False)
    assert g.answer_room == ANSWER_ROOM and g.context == g.folder.context and g.context
    overhead = template_overhead(g.tokenizer, g.fmt.style)
    assert g.prompter.log_budget == g.context - overhead - ANSWER_ROOM - MARGIN
    capped = load_guardian(str(tiny_model_dir), log_budget=100, progress=False)
    assert capped.prompter.log_budget == 100
    [score] = g.score([g.prompt(EXAMPLES["bmi"]())])
    assert 0.0 <= score.p_unsafe <= 1.0 and sum(score.probs.values()) == pytest.approx(1, abs=1e-4)


def test_training_and_inference_size_a_log_by_one_rule(tiny_model_dir):
    """Training's render_row gives a row the room its own answer leaves: the Prompter with that room renders the
    same prompt."""
    from transformers import AutoTokenizer

    from mcip.examples import EXAMPLES
    from mcip.prompting import Prompter, template_overhead
    from mcip.scoring import encode
    from train.data import render_row

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    traj = EXAMPLES["bmi-injected"]()
    row = {"id": traj.id, "label": traj.label, "trajectory": traj.model_dump_json(), "rationale": "flow 5."}
    formats = (
        (PromptFormat("compact", 120), 2048),
        (PromptFormat("full"), 1100),
        (PromptFormat("compact", relations=True), 700),  # its policy is longer: the overhead must say so
    )
    for fmt, max_length in formats:
        overhead = template_overhead(tok, fmt.style, relations=fmt.relations)
        rendered = render_row(row, 0, fmt, tok, overhead, max_length, "t")
        answer = len(encode(tok, rendered["completion"][0]["content"])) + 2
        prompter = Prompter.for_model(tok, fmt, max_length, answer)
        assert rendered["prompt"] == prompter.messages(traj), fmt


def test_saved_formats_with_the_old_budget_name_still_load(tmp_path):
    (tmp_path / PROMPT_FILE).write_text(json.dumps({"style": "compact", "budget_tokens": 640}))
    fmt = PromptFormat.load(tmp_path)
    assert fmt == PromptFormat("compact", log_budget=640)
    fmt.save(tmp_path)  # written back under the one name
    assert json.loads((tmp_path / PROMPT_FILE).read_text())["log_budget"] == 640
    assert "budget_tokens" not in json.loads((tmp_path / PROMPT_FILE).read_text())
    shipped = PromptFormat.load(REPO / "guardians/smollm2-135m-mcip-cpu")
    assert shipped is None or shipped.log_budget


def test_the_old_recipe_key_fails_naming_the_new_one(tmp_path):
    from train.sft import parse_args

    recipe = tmp_path / "r.yaml"
    recipe.write_text("model_name_or_path: x\noutput_dir: /tmp/x\nprompt_budget: 300\n")
    with pytest.raises(ValueError, match="`prompt_budget` is now `log_budget`"):
        parse_args(["--config", str(recipe)])
    with pytest.raises(ValueError, match="`prompt_budget` is now `log_budget`"):
        parse_args(["--model_name_or_path", "x", "--output_dir", "/tmp/x", "--prompt_budget", "300"])
