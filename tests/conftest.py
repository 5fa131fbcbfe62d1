from __future__ import annotations

import functools
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

# small matrices: single-threaded BLAS is much faster than contended multi-threaded BLAS
threadpool_limits(1)

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
REFERENCE = TESTS / "reference"
ALLYSHIP_POOL = ROOT / "item_pools" / "allyship.yaml"
MINI_POOL = TESTS / "data" / "mini_pool.yaml"


@pytest.fixture(scope="session")
def mini_pool():
    from allyscale import load_pool

    return load_pool(MINI_POOL)


@pytest.fixture(scope="session")
def allyship_pool():
    from allyscale import load_pool

    return load_pool(ALLYSHIP_POOL)


# --- the main reference data sets, loaded one way for every test module ----------------------------------------
@functools.cache
def _read_csv(path: Path):
    import pandas as pd

    return pd.read_csv(path)


def reference_data(case: str, name: str = "data.csv"):
    """A reference data set (tests/reference/<case>/<name>), read once per session; a fresh copy each call."""
    return _read_csv(REFERENCE / case / name).copy()


@functools.cache
def _read_json(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def reference_json(case: str, name: str = "reference.json") -> dict:
    """R's outputs for a reference case (tests/reference/<case>/<name>), parsed fresh each call."""
    import json

    return json.loads(_read_json(REFERENCE / case / name))


def reference_model(case: str, name: str = "model.lav") -> str:
    """The lavaan model of a reference case (tests/reference/<case>/<name>)."""
    return _read_json(REFERENCE / case / name)


@pytest.fixture(scope="session")
def hs_data():
    """HolzingerSwineford1939 (lavaan): school and x1-x9 (tests/reference/hs/data.csv)."""
    return reference_data("hs")


@pytest.fixture(scope="session")
def hs_model() -> str:
    """The three-factor HolzingerSwineford model (tests/reference/hs/model.lav)."""
    return reference_model("hs")


@pytest.fixture(scope="session")
def hs_reference() -> dict:
    """lavaan 0.6.14's outputs for HolzingerSwineford1939 (tests/reference/hs/reference.json)."""
    return reference_json("hs")


def libreoffice_pdf(docx: Path, out_dir: Path) -> Path:
    """``docx`` converted to PDF by headless LibreOffice (its own profile in ``out_dir``); the PDF's path."""
    import shutil
    import subprocess

    office = shutil.which("libreoffice") or shutil.which("soffice")
    assert office is not None, "LibreOffice is not installed"
    done = subprocess.run(
        [
            office,
            "--headless",
            f"-env:UserInstallation=file://{out_dir}/lo",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out_dir),
            str(docx),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    pdf = out_dir / (Path(docx).stem + ".pdf")
    assert done.returncode == 0 and pdf.is_file(), done.stderr[-2000:]
    return pdf
