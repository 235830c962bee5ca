"""Experiment tracking: wandb when the user is logged in, offline wandb (with a one-line notice) when not.

Without a login, wandb would prompt for a key in the middle of a run, or fail on a machine without network.
Offline runs keep everything on disk; ``wandb sync`` uploads them later.
"""

from __future__ import annotations

import netrc
import os
from urllib.parse import urlparse


def wandb_logged_in() -> bool:
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def setup_wandb(report_to: list[str] | str | None, notice=print) -> str | None:
    """Make ``report_to: wandb`` safe to use anywhere; returns the wandb mode in effect (None: not used)."""
    targets = [report_to] if isinstance(report_to, str) else list(report_to or [])
    if "wandb" not in targets and "all" not in targets:
        return None
    mode = os.environ.get("WANDB_MODE")
    if mode in ("offline", "disabled", "dryrun"):
        return mode
    if not wandb_logged_in():
        os.environ["WANDB_MODE"] = "offline"
        notice(
            "wandb: no login found (WANDB_API_KEY or `wandb login`); logging offline to ./wandb, "
            "upload later with `wandb sync`."
        )
        return "offline"
    return mode or "online"
