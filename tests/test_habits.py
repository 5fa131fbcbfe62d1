"""The habits the test run enforces: ruff's rules and formatter, mypy on the core and the results contract, and a
clean build of the API documentation (configuration in pyproject.toml and docs/api/conf.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

PATHS = ["allyscale", "tests", "studies", "benchmarks"]


def _tool(name: str) -> list[str]:
    exe = shutil.which(name, path=str(ROOT / ".venv" / "bin")) or shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]' installs it")
    return [exe]


def _run(cmd: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_ruff_check():
    res = _run(_tool("ruff") + ["check", *PATHS])
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]


def test_ruff_format():
    res = _run(_tool("ruff") + ["format", "--check", *PATHS])
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]


def test_mypy():
    res = _run(_tool("mypy"))  # files and options: [tool.mypy] in pyproject.toml
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]


def test_api_docs_build(tmp_path):
    # -W: a docstring that does not render (bad indentation, stray |x| substitutions, ...) fails the build
    res = _run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-E",
            "-q",
            "-W",
            "--keep-going",
            "-b",
            "html",
            "docs/api",
            str(tmp_path / "html"),
        ]
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    assert (tmp_path / "html" / "sem.html").read_text(encoding="utf-8").count("allyscale.cfa") > 3
