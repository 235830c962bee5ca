"""benchmarks/evidence_kept.py reads the flows a generated rationale cites; it must read the generator's phrasing."""

from benchmarks.evidence_kept import cited_flows
from mcip.calls import deviating_flow
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
