"""What a fresh machine gets from the project's own files: the Makefile's install line and the built package."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.conftest import REPO


def _dry_run(*args: str) -> str:
    """``make -n`` with the install stamp treated as stale, so the install recipe is printed even when installed."""
    proc = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", *args], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_make_install_asks_for_the_extras_it_promises():
    assert '-e ".[dev,agentdojo]"' in _dry_run("install")
    assert '-e ".[dev,agentdojo,gpu]"' in _dry_run("install", "GPU=1")  # was ".[devgpu]": no extra installed


def test_make_demo_composes_the_stage_targets():
    plan = _dry_run("demo")
    for step in (
        "-m data_gen --config recipes/data/small.yaml",
        "-m train.sft",
        "-m train.evaluate",
        "-m train.export",
    ):
        assert step in plan, step


def test_the_wheel_holds_every_package_and_data_file(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    catalogue = {p.relative_to(REPO).as_posix() for p in (REPO / "data_gen/catalogue").rglob("*.yaml")}
    assert catalogue and catalogue <= names, sorted(catalogue - names)[:5]
    assert "train/templates/model_card.md" in names
    for package in ("mcip", "data_gen", "train", "guard"):
        if (REPO / package).is_dir():
            assert f"{package}/__init__.py" in names, package
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    for script in ("mcip =", "mcip-data =", "mcip-eval =", "mcip-export ="):
        assert script in scripts, script
