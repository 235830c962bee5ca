"""The decision for one proposed call: rules first, then the guardian under a deadline, then the policy.

Order: ``deny_tools`` -> tools the server never listed -> ``allow_tools`` -> drifted tools (``on_drift: block``)
-> unknown request (``unknown_request: block|ask``) -> the guardian's verdict and the class's thresholds.
A guardian that fails to load, raises, or misses the deadline gives no verdict: the call is blocked with that
reason (fail closed), or, only when the policy says ``fail_mode: open``, allowed and marked ``fail_open``.
The guardian loads in a background thread so the proxy answers ``initialize`` at once (hosts time out slow
servers); a call that arrives while it loads waits up to ``load_timeout_ms``. A forward pass cannot be interrupted:
after a missed deadline it finishes in the background and holds the guardian, so the next check's deadline also
covers that wait (a deadline far below the model's speed blocks every call, which is the fail-closed promise).
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import anyio
import anyio.to_thread

from guard.guardian import Guardian, GuardianError, Review
from guard.policy import Policy
from mcip.taxonomy import get_label


@dataclass
class Decision:
    action: str  # allow, log, ask or block
    reason: str
    rule: str  # which check decided: deny_list, unlisted, allow_list, drift, unknown_request, guardian, guardian_error
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


class GuardianLoader:
    """Loads the guardian once, in a background thread, and hands it out when ready (or its load error)."""

    def __init__(self, factory: Callable[[], Guardian], name: str | None = None):
        self.name = name
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="guardian-load")
        self._future = self._pool.submit(factory)

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


class Gate:
    def __init__(self, policy: Policy, loader: GuardianLoader):
        self.policy = policy
        self.loader = loader

    async def _review(self, traj) -> Review:
        guardian = await anyio.to_thread.run_sync(
            self.loader.get, self.policy.load_timeout_s, abandon_on_cancel=True
        )
        with anyio.fail_after(self.policy.deadline_s):
            return await anyio.to_thread.run_sync(guardian.review_one, traj, abandon_on_cancel=True)

    async def decide(
        self,
        traj,
        tool: str,
        server: str | None,
        *,
        listed: bool,
        drifted: bool,
        request_known: bool,
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
        if p.matches(m.allow_tools, tool, server):
            return done(Decision("allow", f"tool {tool!r} is on the policy's allow list", "allow_list"))
        if drifted and m.on_drift == "block":
            return done(
                Decision(
                    "block", f"tool {tool!r} changed since it was pinned (description or schema)", "drift"
                )
            )
        if not request_known and m.unknown_request != "review":
            return done(
                Decision(m.unknown_request, "the user's request is unknown to the guard", "unknown_request")
            )
        try:
            review = await self._review(traj)
        except TimeoutError:
            return done(self._no_verdict(f"the guardian missed its {m.deadline_ms} ms deadline"))
        except GuardianError as err:
            return done(self._no_verdict(f"guardian error: {err}"))
        risk = review.top_risk
        action = p.action_for(review.p_unsafe if review.p_unsafe is not None else 1.0, risk)
        score = f"P(unsafe) {review.p_unsafe:.3f}" if review.p_unsafe is not None else "no score"
        if action == "allow":
            reason = f"guardian: allowed ({score}; top risk {risk_name(risk)})"
        else:
            reason = f"guardian: {risk_name(risk)} with {score} at flow {review.flow}" + (
                f": {review.rationale}" if review.rationale else ""
            )
        return done(Decision(action, reason, "guardian", review))

    def _no_verdict(self, why: str) -> Decision:
        if self.policy.fail_open:
            return Decision(
                "allow", f"{why}; allowed because the policy is fail-open", "guardian_error", None, True
            )
        return Decision("block", f"{why}; blocked because the guard fails closed", "guardian_error")
