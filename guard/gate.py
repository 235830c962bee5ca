"""The decision for one proposed call: rules first, then the guardian under a deadline, then the policy.

Order: ``deny_tools`` -> tools the server never listed -> arguments that do not match the tool's ``inputSchema``
(JSON Schema, checked with ``jsonschema``: no guardian pass is spent on a call the server would reject) ->
``allow_tools`` -> drifted tools (``on_drift: block``) -> unknown request (``unknown_request: block``) -> the
guardian's verdict and the class's thresholds. ``unknown_request: ask`` asks only after the guardian has looked:
its block stands, and an approved call keeps the guardian's verdict in the log.
A guardian that fails to load, raises, or misses the deadline gives no verdict: the call is blocked with that
reason (fail closed), or, only when the policy says ``fail_mode: open``, allowed and marked ``fail_open``.
The guardian loads in a background thread so the proxy answers ``initialize`` at once (hosts time out slow
servers); a call that arrives while it loads waits up to ``load_timeout_ms``. With ``deadline_ms: auto`` the
loader also times the guardian on this machine (``measure``: a warm-up pass, then a short and a long session) and
the deadline is ``AUTO_FACTOR`` times the long-session pass, so a slow CPU gets a deadline it can meet. A forward pass cannot be interrupted:
after a missed deadline it finishes in the background and holds the guardian, so the next check's deadline also
covers that wait (a deadline far below the model's speed blocks every call, which is the fail-closed promise).
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import anyio
import anyio.to_thread

from guard.guardian import Guardian, GuardianError, Review
from guard.policy import Policy
from mcip.record import Message, Tool, ToolCall, Trajectory
from mcip.taxonomy import get_label

# `deadline_ms: auto`: this many times the measured pass on a long session, rounded up to 500 ms, at least the floor
AUTO_FACTOR = 2.0
AUTO_FLOOR_MS = 2000
AUTO_UNMEASURED_MS = 30000  # a guardian loaded without a measurement (the hook: one process per call)


@dataclass
class Decision:
    action: str  # allow, log, ask or block
    reason: str
    rule: str  # which check decided: deny_list, unlisted, invalid_arguments, allow_list, drift, unknown_request,
    # guardian, guardian_error (and the proxy's upstream_gone)
    review: Review | None = None
    fail_open: bool = False
    seconds: float = 0.0
    outcome: dict = field(default_factory=dict)  # filled by the caller: what happened after the decision

    def to_dict(self) -> dict:
        out = asdict(self)
        out["review"] = self.review.to_dict() if self.review else None
        out["seconds"] = round(self.seconds, 4)
        return out


def risk_name(label: str | None) -> str:
    try:
        lb = get_label(label)
        return f"{lb.name} ({lb.string})"
    except (KeyError, TypeError):
        return str(label)


def schema_error(schema: dict | None, arguments: dict) -> str | None:
    """Why ``arguments`` do not match a tool's ``inputSchema`` (JSON Schema; 2020-12 unless ``$schema`` says
    otherwise), or None. A schema that is itself invalid is not held against the call."""
    import jsonschema

    if not schema:
        return None
    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        cls.check_schema(schema)
        err = jsonschema.exceptions.best_match(cls(schema).iter_errors(arguments))
    except jsonschema.exceptions.SchemaError:
        return None
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path)
    return f"{err.message}" + (f" (at {where})" if where else "")


def calibration_sessions() -> dict[str, Trajectory]:
    """Two sessions that end with a proposed call: a short one (a few turns) and a long one (about 6,000
    characters of tool results, a busy agent session), to time the guardian on."""
    tools = [
        Tool(name="read_inbox", description="Read the user's inbox.", server="mail"),
        Tool(name="send_email", description="Send an email on the user's behalf.", server="mail"),
    ]
    mail = [
        {
            "from": f"user{i}@example.com",
            "subject": f"Quarterly figures, part {i}",
            "body": "Figures attached. " * 12,
        }
        for i in range(24)
    ]

    def session(n_reads: int) -> Trajectory:
        msgs = [Message(role="user", content="Summarise my inbox and reply to Alice.")]
        for i in range(n_reads):
            call = ToolCall(id=f"c{i}", function={"name": "read_inbox", "arguments": {"page": i}})
            msgs += [
                Message(role="assistant", tool_calls=[call]),
                Message(role="tool", tool_call_id=f"c{i}", content=str(mail[i * 4 : i * 4 + 4])),
            ]
        send = ToolCall(id="send", function={"name": "send_email", "arguments": {"to": "alice@example.com"}})
        msgs.append(Message(role="assistant", tool_calls=[send]))
        return Trajectory(id=f"calibration-{n_reads}", tools=tools, messages=msgs)

    return {"short": session(1), "long": session(6)}


def suggested_deadline_ms(pass_s: float) -> int:
    ms = AUTO_FACTOR * pass_s * 1000
    return max(AUTO_FLOOR_MS, int(-(-ms // 500) * 500))


def measure(guardian: Guardian) -> dict:
    """Time the guardian on this machine: a warm-up pass, then one pass on each calibration session."""
    sessions = calibration_sessions()
    start = time.perf_counter()
    guardian.review_one(sessions["short"])  # the first pass pays for allocations: keep it out of the figures
    out = {"warmup_s": round(time.perf_counter() - start, 3)}
    for name, traj in sessions.items():
        start = time.perf_counter()
        guardian.review_one(traj)
        out[f"{name}_pass_s"] = round(time.perf_counter() - start, 3)
    # a live session's next call: the session's cache holds everything before it, so only the new turn runs.
    # The deadline still covers the cold pass: a session's first call, or one whose cache was evicted.
    live = sessions["long"].model_copy(update={"meta": {"session": "calibration"}})
    earlier = live.model_copy(update={"messages": live.messages[:-2]})  # up to the call before
    guardian.review_one(earlier)
    start = time.perf_counter()
    guardian.review_one(live)
    out["incremental_pass_s"] = round(time.perf_counter() - start, 3)
    out["deadline_ms"] = suggested_deadline_ms(out["long_pass_s"])
    return out


class GuardianLoader:
    """Loads the guardian once, in a background (daemon) thread, and hands it out when ready (or its load
    error). ``on_error`` is called with the error the moment a load fails, so it can be reported at once. With
    ``calibrate``, the loaded guardian is timed (``measure``) before it is handed out, and ``on_ready`` gets the
    measurement: it is what ``deadline_ms: auto`` uses."""

    def __init__(
        self,
        factory: Callable[[], Guardian],
        name: str | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        calibrate: bool = False,
        on_ready: Callable[[dict], None] | None = None,
    ):
        self.name = name
        self.measurement: dict | None = None
        self._future: concurrent.futures.Future = concurrent.futures.Future()

        def load() -> None:
            try:
                guardian = factory()
                if calibrate:
                    self.measurement = measure(guardian)
                self._future.set_result(guardian)
            except BaseException as err:  # noqa: BLE001 - handed to every caller, and reported
                self._future.set_exception(err)
                if on_error is not None:
                    on_error(err)
                return
            if on_ready is not None:
                on_ready(self.measurement or {})

        # a daemon thread: a proxy whose client went away never waits on a model still loading
        threading.Thread(target=load, name="guardian-load", daemon=True).start()

    def get(self, timeout: float) -> Guardian:
        try:
            return self._future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise GuardianError(f"the guardian is still loading after {timeout:.0f} s") from None
        except Exception as err:  # GuardianError included: say that it is a load failure
            raise GuardianError(f"the guardian failed to load: {type(err).__name__}: {err}") from None

    @property
    def ready(self) -> bool:
        return self._future.done()

    @property
    def auto_deadline_ms(self) -> int:
        return self.measurement["deadline_ms"] if self.measurement else AUTO_UNMEASURED_MS


class Gate:
    def __init__(self, policy: Policy, loader: GuardianLoader):
        self.policy = policy
        self.loader = loader

    async def _review(self, traj) -> Review:
        guardian = await anyio.to_thread.run_sync(
            self.loader.get, self.policy.load_timeout_s, abandon_on_cancel=True
        )
        with anyio.fail_after(self.deadline_ms / 1000):
            return await anyio.to_thread.run_sync(guardian.review_one, traj, abandon_on_cancel=True)

    @property
    def deadline_ms(self) -> int:
        """The policy's deadline, or for ``auto`` the one measured when the guardian loaded."""
        if self.policy.deadline_auto:
            return getattr(self.loader, "auto_deadline_ms", AUTO_UNMEASURED_MS)
        return int(self.policy.model.deadline_ms)

    async def decide(
        self,
        traj,
        tool: str,
        server: str | None,
        *,
        listed: bool,
        drifted: bool,
        request_known: bool,
        schema: dict | None = None,
        arguments: dict | None = None,
    ) -> Decision:
        p, m = self.policy, self.policy.model
        start = time.perf_counter()

        def done(d: Decision) -> Decision:
            d.seconds = time.perf_counter() - start
            return d

        if p.matches(m.deny_tools, tool, server):
            return done(Decision("block", f"tool {tool!r} is on the policy's deny list", "deny_list"))
        if not listed and m.unlisted_tools == "block":
            return done(
                Decision("block", f"tool {tool!r} was never offered in the server's tools/list", "unlisted")
            )
        if schema is not None and arguments is not None:
            why = schema_error(schema, arguments)
            if why:
                return done(
                    Decision(
                        "block",
                        f"the arguments do not match the input schema of {tool!r}: {why}",
                        "invalid_arguments",
                    )
                )
        if p.matches(m.allow_tools, tool, server):
            return done(Decision("allow", f"tool {tool!r} is on the policy's allow list", "allow_list"))
        if drifted and m.on_drift == "block":
            return done(
                Decision(
                    "block", f"tool {tool!r} changed since it was pinned (description or schema)", "drift"
                )
            )
        if not request_known and m.unknown_request == "block":
            return done(Decision("block", "the user's request is unknown to the guard", "unknown_request"))
        d = await self._judge(traj)
        if not request_known and m.unknown_request == "ask" and d.rule == "guardian" and d.action != "block":
            # the guardian has looked; the user is asked with its verdict, which stays in the log
            d = Decision(
                "ask", f"the user's request is unknown to the guard; {d.reason}", "unknown_request", d.review
            )
        return done(d)

    async def _judge(self, traj) -> Decision:
        p = self.policy
        try:
            review = await self._review(traj)
        except TimeoutError:
            auto = " (auto: measured on this machine)" if p.deadline_auto else ""
            return self._no_verdict(f"the guardian missed its {self.deadline_ms} ms deadline{auto}")
        except GuardianError as err:
            return self._no_verdict(f"guardian error: {err}")
        risk = review.top_risk
        action = p.action_for(review.p_unsafe if review.p_unsafe is not None else 1.0, risk)
        score = f"P(unsafe) {review.p_unsafe:.3f}" if review.p_unsafe is not None else "no score"
        if action == "allow":
            reason = f"guardian: allowed ({score}; top risk {risk_name(risk)})"
        else:
            reason = f"guardian: {risk_name(risk)} with {score} at flow {review.flow}" + (
                f": {review.rationale}" if review.rationale else ""
            )
        return Decision(action, reason, "guardian", review)

    def _no_verdict(self, why: str) -> Decision:
        if self.policy.fail_open:
            return Decision(
                "allow", f"{why}; allowed because the policy is fail-open", "guardian_error", None, True
            )
        return Decision("block", f"{why}; blocked because the guard fails closed", "guardian_error")
