"""The library API: load a guardian the way the evaluator does and review trajectories with it.

    from guard import Guardian
    g = Guardian("runs/smollm2-lora")                 # a run, adapter, merged export or Hub id
    g = Guardian(api_base="http://h:8000/v1", api_model="mcip-guardian")   # an OpenAI-compatible endpoint
    review = g.review_one(trajectory)                 # verdict, label, P(unsafe), per-class P, flow, seconds

Nothing here is a second copy: the guardian loads, renders and scores through ``mcip.guardian`` exactly as
``train/evaluate.py`` does (the model's saved format, the room its context leaves; one teacher-forced forward
pass with per-class probabilities, or an endpoint's answers read by ``mcip.verdict.parse_verdict``). This module
adds what the guard needs on top: a lock, timings, the flow concerned, and one error type that fails closed.

A live session (a trajectory whose ``meta.session`` names it, as the proxy's snapshots do) is judged
incrementally: the guardian keeps the session's key/value cache and its own verdicts on the session's earlier
calls, so a stream-format guardian reads each call as one new turn of the same chat (``mcip.guardian.check``).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from mcip.calls import positions
from mcip.flows import derive_flows, ends_with_proposed_call
from mcip.folder import ModelError, ModelFolder
from mcip.guardian import Score, load_guardian, log_verdict
from mcip.prompting import Prompter
from mcip.record import Trajectory
from mcip.stream import STREAM_WINDOW
from mcip.taxonomy import SAFE

Messages = list[dict[str, str]]
_FLOW_RX = re.compile(r"\bflow\s+(\d+)", re.IGNORECASE)


class GuardianError(RuntimeError):
    """The guardian could not give a verdict (it failed to load, or its backend failed)."""


def missing_guardian(model: str | None) -> str | None:
    """Why ``model`` cannot be the local guardian it clearly names (an absolute or ``./``/``~`` path, a path of
    two or more folders, or one under a folder that exists here), or None: it exists, or may be a Hub id
    (``org/name``) and only loading it can tell."""
    if not model:
        return None
    path = Path(model).expanduser()
    if path.is_dir():
        return None
    if path.exists():
        return f"guardian {model!r} is a file, not a model, adapter or export folder"
    parts = model.replace("\\", "/").split("/")
    looks_local = (
        path.is_absolute()
        or model.startswith((".", "~"))
        or len(parts) > 2
        or (len(parts) == 2 and Path(parts[0]).is_dir())
    )
    if looks_local:
        return f"guardian {model!r}: no such folder ({path.resolve()})"
    return None


def guardian_prompt(traj: Trajectory, model: str | None, tokenizer=None) -> Messages:
    """Trajectory -> the chat prompt this model reads, without loading its weights: its saved format and the room
    its context leaves (``mcip.prompting``, the evaluator's rule), so a 10k-token session is cut by the
    evidence-keeping renderer and never fed past the model's positions. A log that ends with a proposed call is
    rendered as one awaiting review (``mcip.flows.ends_with_proposed_call``)."""
    folder = ModelFolder.read(model)
    return Prompter.for_model(tokenizer, folder.fmt, folder.context).messages(traj)


@dataclass(frozen=True)
class Review:
    """One guardian verdict. ``flow`` is the 1-based MCI flow concerned: the proposed call when the log ends
    with one, else the flow the rationale names (generation only); ``probs`` maps every label to P (fast
    scoring only)."""

    verdict: str  # "safe" or "unsafe"
    label: str  # an MCIP label string ("true" when safe)
    p_unsafe: float | None
    probs: dict[str, float] | None
    flow: int | None
    seconds: float
    rationale: str | None = None

    @property
    def top_risk(self) -> str | None:
        """The most likely risk class, even when the verdict is safe (thresholds below 0.5 need it)."""
        if self.label != SAFE:
            return self.label
        if self.probs:
            return max((k for k in self.probs if k != SAFE), key=self.probs.__getitem__)
        return None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["top_risk"] = self.top_risk
        if self.probs is not None:
            out["probs"] = {k: round(v, 6) for k, v in self.probs.items()}
        if self.p_unsafe is not None:
            out["p_unsafe"] = round(self.p_unsafe, 6)
        out["seconds"] = round(self.seconds, 4)
        return out


def _flow_concerned(traj: Trajectory, rationale: str | None) -> int | None:
    if ends_with_proposed_call(traj):
        return len(traj.flows or derive_flows(traj))
    m = _FLOW_RX.search(rationale or "")
    return int(m.group(1)) if m else None


class Guardian:
    """A loaded guardian (``mcip.guardian.LoadedGuardian``) for the guard. Thread-safe: one review runs at a
    time (a CPU or a GPU is not shared usefully)."""

    def __init__(
        self,
        model: str | None = None,
        *,
        api_base: str | None = None,
        api_model: str | None = None,
        api_key_env: str | None = None,
        batch_size: int = 8,
        timeout: float = 30.0,
        cache_mib: float = 1024.0,
        max_sessions: int = 1024,
        window: int | None = STREAM_WINDOW,
    ):
        self.model = model
        self._lock = threading.Lock()
        self._verdicts: OrderedDict[str, dict[str, str]] = OrderedDict()  # session -> call id -> its label
        self.max_sessions = max_sessions
        if not api_base and not model:
            raise GuardianError("no guardian: pass a model folder, adapter or Hub id, or an api_base")
        missing = None if api_base else missing_guardian(model)
        if missing:
            raise GuardianError(missing)
        try:
            self.loaded = load_guardian(
                model,
                api_base=api_base,
                api_model=api_model,
                api_key_env=api_key_env,
                batch_size=batch_size,
                timeout=timeout,
                progress=False,
                cache_mib=cache_mib,
                window=window,
            )
        except ModelError as err:
            raise GuardianError(str(err)) from None
        except Exception as err:  # a folder that is not a model, a Hub id not in the cache: say which and why
            where = "folder" if model and Path(model).expanduser().is_dir() else "Hub id (not a local folder)"
            raise GuardianError(
                f"guardian {model!r} ({where}) failed to load: {type(err).__name__}: {err}"
            ) from err
        self.name = self.loaded.name

    def prompt(self, traj: Trajectory) -> Messages:
        return self.loaded.prompt(traj)

    def review(self, trajs: Sequence[Trajectory]) -> list[Review]:
        """Review a batch; ``seconds`` on each review is the batch time divided by its size."""
        if not trajs:
            return []
        scores, each = self._timed(lambda: self.loaded.judge_logs(trajs), len(trajs))
        return [self._review(t, s, each) for t, s in zip(trajs, scores)]

    def review_one(self, traj: Trajectory) -> Review:
        """One review; a live session's (``meta.session``) last call is judged on the session's new tokens."""
        session = (traj.meta or {}).get("session")
        found = positions(traj)
        if session is None or not found or "call" not in found[-1]:
            return self.review([traj])[0]
        with self._lock:
            mine = self._verdicts.pop(session, {})
            self._verdicts[session] = mine
            while len(self._verdicts) > self.max_sessions:
                self._verdicts.popitem(last=False)
        # calls it never judged (and answers, which the wire does not carry) count as allowed
        earlier = [mine.get(p.get("call"), SAFE) for p in found[:-1]]
        prompt = self.loaded.session_prompt(traj, earlier)
        [score], seconds = self._timed(lambda: [self.loaded.check(session, prompt)], 1)
        mine[found[-1]["call"]] = score.label
        return self._review(traj, score, seconds)

    def review_calls(self, traj: Trajectory) -> tuple[Review | None, list[tuple[dict, Review]]]:
        """Every call and answer of a finished log judged in one incremental pass (``judge_positions``), each
        with the guardian's own earlier verdicts: the log's review (``log_verdict``, as evaluation reads it; None
        for a log with nothing to judge) and (position, review) in order."""
        found = positions(traj)
        scores, each = self._timed(lambda: self.loaded.judge_positions(traj), max(len(found), 1))
        calls = [(p, self._review(traj, s, each, whole_log=False)) for p, s in zip(found, scores)]
        log = self._review(traj, log_verdict(scores), each, whole_log=False) if scores else None
        return log, calls

    def _timed(self, run, n: int) -> tuple[list[Score], float]:
        with self._lock:
            start = time.perf_counter()
            try:
                out = run()
            except Exception as err:  # a backend failure of any kind is "no verdict": the caller fails closed
                what = str(err) if isinstance(err, ModelError) else f"{type(err).__name__}: {err}"
                raise GuardianError(f"guardian {self.name}: {what}") from err
            return out, (time.perf_counter() - start) / n

    @staticmethod
    def _review(traj: Trajectory, s: Score, seconds: float, whole_log: bool = True) -> Review:
        flow = _flow_concerned(traj, s.rationale) if whole_log else None
        verdict = "unsafe" if s.label != SAFE else "safe"
        return Review(verdict, s.label, s.p_unsafe, s.probs, flow, seconds, s.rationale)
