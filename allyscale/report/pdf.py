"""The report as PDF: report.html printed by headless Chromium.

The PDF is the HTML report as a browser prints it, so it holds exactly what the HTML
holds. Pagination comes from the report's print style sheet (``@media print`` in
``templates/report.html.j2``): US Letter pages with page numbers, table rows never split,
table headers repeated on every page, figures kept whole, and tables too wide for a
portrait page set on landscape pages of their own (CSS named pages), so no table is cut
at the page edge.

Chromium is found on ``PATH`` (``chromium``, ``chromium-browser``, ``google-chrome``,
``google-chrome-stable``) or named by the environment variable ``ALLYSCALE_CHROMIUM``.
Without it, PDF output is refused with an error that says what to install; it is never
skipped silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from allyscale.errors import SpecificationError

__all__ = ["find_chromium", "require_chromium", "html_to_pdf", "CHROMIUM_NAMES"]

#: executables tried in this order on PATH
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: flags for a headless, offline, profile-free print
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw",
)

INSTALL_HINT = (
    "PDF output prints report.html with headless Chromium, which was not found: install it "
    "(Debian/Ubuntu: 'apt-get install chromium'; macOS: 'brew install --cask chromium') or set "
    "ALLYSCALE_CHROMIUM to the browser's executable; or leave pdf out of the formats"
)


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable: ``ALLYSCALE_CHROMIUM`` if set, else the first on ``PATH``."""
    named = os.environ.get("ALLYSCALE_CHROMIUM")
    if named:
        return shutil.which(named) or (named if Path(named).is_file() and os.access(named, os.X_OK) else None)
    for name in CHROMIUM_NAMES:
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def require_chromium() -> str:
    """The Chromium executable, or :class:`~allyscale.errors.SpecificationError` naming what to install.

    Raises
    ------
    SpecificationError
        No Chromium on ``PATH`` (or ``ALLYSCALE_CHROMIUM`` names no executable).
    """
    exe = find_chromium()
    if exe is None:
        named = os.environ.get("ALLYSCALE_CHROMIUM")
        raise SpecificationError(
            INSTALL_HINT if not named else f"ALLYSCALE_CHROMIUM={named!r} is not an executable; " + INSTALL_HINT
        )
    return exe


def html_to_pdf(html: str | Path, pdf: str | Path, *, chromium: str | None = None, timeout: float = 300) -> Path:
    """Print the HTML file ``html`` to the PDF file ``pdf`` with headless Chromium.

    Parameters
    ----------
    html : path
        A self-contained HTML file (the report references nothing outside itself).
    pdf : path
        Where to write the PDF.
    chromium : str, optional
        The browser executable; default :func:`require_chromium`.
    timeout : float
        Seconds before the print is abandoned.

    Returns
    -------
    Path
        ``pdf``.

    Raises
    ------
    SpecificationError
        Chromium is not installed.
    ChildProcessError
        Chromium ran but wrote no PDF, or did not finish within ``timeout`` (its exit status and
        the end of its messages are given; the command line exits 1, as for a failed run).
    """
    exe = chromium or require_chromium()
    html, pdf = Path(html).resolve(), Path(pdf).resolve()
    profile = tempfile.mkdtemp(prefix="allyscale-chromium-")
    try:
        try:
            done = subprocess.run(
                [exe, *_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={pdf}", html.as_uri()],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise ChildProcessError(f"Chromium did not print {html.name} to PDF within {timeout:g} s") from None
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if not pdf.is_file() or pdf.stat().st_size == 0 or pdf.read_bytes()[:5] != b"%PDF-":
        tail = "\n".join((done.stderr or "").strip().splitlines()[-5:])
        raise ChildProcessError(
            f"Chromium (exit status {done.returncode}) wrote no PDF of {html.name}" + (f": {tail}" if tail else "")
        )
    return pdf
