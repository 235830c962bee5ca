"""Run-time guard: a trained MCIP guardian in front of real MCP servers (issue 17).

``Guardian`` (library API), ``guard.proxy`` (the ``mcip-guard proxy`` command), ``guard.policy`` (the policy file),
``guard.pins`` (tool-list pinning), ``guard.audit`` (the audit log in the interchange format, secrets redacted),
``guard.upstream`` (starting and watching the upstream server), ``guard.hook`` (a pre-tool-use hook for clients
that have one).
"""

from guard.guardian import Guardian, GuardianError, Review, guardian_prompt
from guard.policy import Policy, PolicyError, load_policy

__all__ = ["Guardian", "GuardianError", "Review", "guardian_prompt", "Policy", "PolicyError", "load_policy"]
