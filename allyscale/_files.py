"""Safe output writing: atomic replacement, and never over an input file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from allyscale.errors import DataError

__all__ = ["atomic_write", "atomic_write_text", "check_output_path"]


def check_output_path(out: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """Refuse to write over an input file; make sure the parent folder exists.

    Raises
    ------
    DataError
        ``out`` is one of ``inputs``, is a directory, or its folder does not exist.
    """
    out = Path(out)
    for inp in inputs:
        if inp is not None and Path(inp).exists() and out.exists() and out.resolve() == Path(inp).resolve():
            raise DataError(f"{out}: refusing to overwrite the input file; choose another output path")
    if out.is_dir():
        raise DataError(f"{out}: is a directory; give a file name")
    if not out.parent.exists():
        raise DataError(f"{out}: folder {out.parent} does not exist")
    return out


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write through a temporary file in the same folder, then rename over ``path``.

    A crash or error leaves any existing file at ``path`` untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Atomically write UTF-8 text."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
