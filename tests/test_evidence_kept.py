"""The flows a verdict rests on (mcip.calls.evidence_flows: training's hidden_evidence, evaluation's
hidden_evidence_share, benchmarks/evidence_kept.py) are read from the rationale: the generator's phrasing."""

from mcip.calls import cited_flows, deviating_flow
from mcip.taxonomy import SAFE


def test_cited_flows_reads_numbers_in_any_case_and_order():
    text = "Flow 5 repeats news.send-digest after it already succeeded at flow 2, without new authorisation."
    assert cited_flows(text) == [2, 5]
    assert cited_flows("The agent's flow serves the user's request.") == []


def test_every_unsafe_default_record_cites_its_deviating_flow_and_only_flows_of_its_log(default_records):
    unsafe = [t for t in default_records if t.label != SAFE]
    assert len(unsafe) > 100
    for traj in unsafe:
        cited = cited_flows(traj.meta["rationale"])
        assert deviating_flow(traj) in cited, (traj.id, traj.meta["rationale"])
        assert all(1 <= n <= len(traj.flows) for n in cited), (traj.id, cited, len(traj.flows))


def test_a_prompt_that_shows_the_deviating_flow_but_not_a_flow_it_rests_on_hides_the_evidence(
    default_records,
):
    """A replay's repeat can be shown while its first call was cut away with old flows: the label then rests on a
    flow the prompt does not show, and training's hidden_evidence must say so (the deviating flow alone did not)."""
    from mcip.calls import evidence_flows
    from mcip.prompt import PromptFormat, approx_tokens, flow_legible
    from mcip.prompting import hidden_evidence

    fmt = PromptFormat("compact", 640)
    caught = []
    for traj in default_records:
        if traj.label == SAFE:
            continue
        prompt = fmt.messages(traj, approx_tokens)
        text = prompt[-1]["content"]
        shown = [flow_legible(text, n) for n in evidence_flows(traj)]
        assert hidden_evidence(traj, prompt) == (not all(shown))
        if flow_legible(text, deviating_flow(traj)) and not all(shown):
            caught.append(traj.id)
    assert caught  # real-size sessions at 640 tokens have such records
