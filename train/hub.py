"""Publish a verified export or a generated dataset to the Hugging Face Hub.

    python -m train.hub model exports/smollm2-guardian --repo user/mcip-guardian-smollm2 [--private] [--dry-run]
    python -m train.hub dataset data/mcip-v1 --repo user/mcip-v1 [--private] [--dry-run]

The token comes from HF_TOKEN or the saved login (`hf auth login`); it is passed to the client and never
printed or written anywhere. --dry-run lists what would be uploaded (repo, type, visibility, every file and its
size) without any network access or token. A model folder is pushed only if its verification.json passed
(see train/export.py); --skip-verification-check overrides that.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


class HubError(RuntimeError):
    """A push that cannot or did not happen, with a one-line reason for the user."""


@dataclass
class Plan:
    repo_id: str
    repo_type: str
    private: bool
    files: list[tuple[str, int]]  # (path in repo, size in bytes)
    note: str = ""

    def describe(self) -> str:
        width = max((len(_human(size)) for _, size in self.files), default=0)
        bwidth = max((len(f"{size:,}") for _, size in self.files), default=0)
        lines = [
            f"repo: {self.repo_id} ({self.repo_type}, {'private' if self.private else 'public'})",
            *(f"  {_human(size):>{width}}  {size:>{bwidth},} B  {path}" for path, size in self.files),
        ]
        total = sum(size for _, size in self.files)
        lines.append(f"total: {len(self.files)} files, {_human(total)} ({total:,} bytes)")
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def _human(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def resolve_token(token: str | None) -> str:
    from huggingface_hub import get_token

    token = token or get_token()
    if token is None:
        raise HubError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (or use --dry-run)")
    return token


@contextmanager
def hub_errors(repo_id: str) -> Iterator[None]:
    """Turn the client's exceptions, often wrapped several deep, into one clear line."""
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError, HTTPError, OfflineModeIsEnabled

    try:
        yield
    except HubError:
        raise
    except Exception as top:
        err: BaseException | None = top
        while err is not None:
            if isinstance(err, OfflineModeIsEnabled):
                raise HubError("HF_HUB_OFFLINE is set; unset it to publish") from top
            if isinstance(err, HfHubHTTPError) and err.response is not None:
                status = err.response.status_code
                reason = {401: "the token was rejected", 403: f"no write access to {repo_id}"}.get(status)
                detail = " ".join((reason or err.server_message or str(err)).split())
                raise HubError(f"the Hub refused the request ({status}): {detail[:300]}") from top
            if isinstance(err, HTTPError):
                reason = " ".join(str(err).split()) or type(err).__name__
                raise HubError(
                    f"cannot reach the Hugging Face Hub at {constants.ENDPOINT}: {reason}"
                ) from top
            err = err.__cause__ or err.__context__
        raise


# -- models ----------------------------------------------------------------------------------------------------


def check_verification(folder: Path) -> None:
    path = folder / "verification.json"
    if not path.is_file():
        raise HubError(f"{folder} has no verification.json: export it with train/export.py first")
    if not json.loads(path.read_text(encoding="utf-8")).get("export_ok"):
        raise HubError(f"{path} says the export failed verification; re-export it")


def model_plan(folder: Path, repo_id: str, private: bool) -> Plan:
    """The files upload_folder sends: everything but its default ignores (.git, .cache/huggingface)."""
    from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects

    paths = sorted(p.relative_to(folder).as_posix() for p in folder.glob("**/*") if p.is_file())
    kept = filter_repo_objects(paths, ignore_patterns=DEFAULT_IGNORE_PATTERNS)
    return Plan(repo_id, "model", private, [(p, (folder / p).stat().st_size) for p in kept])


def push_model(
    folder: str | Path,
    repo_id: str,
    private: bool = False,
    dry_run: bool = False,
    token: str | None = None,
    skip_verification_check: bool = False,
) -> Plan | str:
    """Create the model repo (if needed) and upload the export folder; return its URL (or the dry-run plan)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise HubError(f"{folder}: no such folder")
    if not skip_verification_check:
        check_verification(folder)
    if dry_run:
        return model_plan(folder, repo_id, private)
    from huggingface_hub import HfApi

    api = HfApi(token=resolve_token(token))
    with hub_errors(repo_id):
        url = api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        api.upload_folder(
            folder_path=folder, repo_id=repo_id, repo_type="model", commit_message="Upload guardian"
        )
    return str(url)


# -- datasets --------------------------------------------------------------------------------------------------


def load_dataset_dict(dataset_dir: Path):
    """``save_to_disk`` output as a DatasetDict (a single Dataset becomes its ``train`` split)."""
    from datasets import Dataset, DatasetDict, load_from_disk

    if not dataset_dir.is_dir():
        raise HubError(f"{dataset_dir}: no such folder")
    try:
        data = load_from_disk(str(dataset_dir))
    except FileNotFoundError as err:
        raise HubError(f"{dataset_dir}: not a dataset saved with save_to_disk ({err})") from err
    return DatasetDict({"train": data}) if isinstance(data, Dataset) else data


def num_shards(dataset) -> int:
    """push_to_hub's own rule (one shard per MAX_SHARD_SIZE of Arrow data), fixed so the dry run names the files."""
    from datasets import config
    from datasets.utils.py_utils import convert_file_size_to_int

    return max(1, math.ceil(dataset.data.nbytes / convert_file_size_to_int(config.MAX_SHARD_SIZE)))


def dataset_plan(dataset_dir: Path, repo_id: str, private: bool) -> Plan:
    """The card plus each split's parquet shards, written to a temp dir to measure them (no network)."""
    data = load_dataset_dict(dataset_dir)
    files = []
    if (dataset_dir / "README.md").is_file():
        files.append(("README.md", (dataset_dir / "README.md").stat().st_size))
    with tempfile.TemporaryDirectory() as tmp:
        for split, ds in data.items():
            n = num_shards(ds)
            for i in range(n):
                name = f"data/{split}-{i:05d}-of-{n:05d}.parquet"
                local = Path(tmp) / name.replace("/", "_")
                ds.shard(n, i, contiguous=True).to_parquet(local)
                files.append((name, local.stat().st_size))
    note = (
        "(datasets adds its dataset_info metadata to README.md on upload)"
        if files[0][0] == "README.md"
        else ""
    )
    return Plan(repo_id, "dataset", private, files, note)


def push_dataset(
    dataset_dir: str | Path,
    repo_id: str,
    private: bool = False,
    dry_run: bool = False,
    token: str | None = None,
) -> Plan | str:
    """Push a ``save_to_disk`` dataset as parquet with ``push_to_hub``, keeping the folder's README.md card.

    The card goes up first: push_to_hub then merges its split and feature metadata into the card's YAML
    instead of replacing the card with a bare one.
    """
    dataset_dir = Path(dataset_dir)
    if dry_run:
        return dataset_plan(dataset_dir, repo_id, private)
    data = load_dataset_dict(dataset_dir)
    token = resolve_token(token)
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    with hub_errors(repo_id):
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if (dataset_dir / "README.md").is_file():
            api.upload_file(
                path_or_fileobj=dataset_dir / "README.md",
                path_in_repo="README.md",
                repo_id=repo_id,
                repo_type="dataset",
                commit_message="Upload dataset card",
            )
        data.push_to_hub(
            repo_id,
            private=private,
            token=token,
            num_shards={split: num_shards(ds) for split, ds in data.items()},
        )
    return str(url)


# -- CLI -------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.hub", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="kind", required=True)
    for kind, help_ in (
        ("model", "an export folder from train/export.py"),
        ("dataset", "a save_to_disk folder"),
    ):
        p = sub.add_parser(kind, help=f"push {help_}")
        p.add_argument("path", help=help_)
        p.add_argument("--repo", required=True, help="Hub repo id, user/name")
        p.add_argument("--private", action="store_true", help="create the repo private")
        p.add_argument(
            "--dry-run", action="store_true", help="list what would be uploaded; no network, no token"
        )
        if kind == "model":
            p.add_argument(
                "--skip-verification-check", action="store_true", help="push without verification.json"
            )
    args = parser.parse_args(argv)
    try:
        if args.kind == "model":
            result = push_model(
                args.path,
                args.repo,
                args.private,
                args.dry_run,
                skip_verification_check=args.skip_verification_check,
            )
        else:
            result = push_dataset(args.path, args.repo, args.private, args.dry_run)
    except HubError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if isinstance(result, Plan):
        print(f"dry run, nothing sent\n{result.describe()}")
    else:
        print(f"pushed {args.path} to {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
