"""The one output writer: every file and folder allyscale writes goes through here.

Rules, the same for every command and for :meth:`ValidationReport.save`:

* **never over an input** — an output path that resolves (symbolic links followed) to
  an input, or to a file that belongs to one (a data file's ``.population.json``
  sidecar, an SQLite store's ``-wal``/``-shm``/``-journal`` files), is refused;
* **atomic** — a file is written to a temporary file beside its target and renamed
  over it; a folder (a report, a Monte Carlo summary) is staged beside its target and
  swapped in with one rename, so it appears complete or not at all;
* **stale files cleared** — a folder allyscale publishes holds only what this run
  wrote, plus any files that allyscale did not write (kept, never touched);
* **spreadsheet-safe CSV** — text cells that a spreadsheet would run as a formula
  (starting with ``= + - @``, a tab or a carriage return) are prefixed with a single
  quote, as the OWASP guidance on CSV injection recommends.

Also here: :func:`brief`, the truncated ``repr`` that error messages use to echo a value.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import reprlib
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from allyscale.errors import DataError

__all__ = [
    "atomic_write",
    "atomic_write_text",
    "check_output_path",
    "check_output_folder",
    "write_csv",
    "spreadsheet_safe",
    "publish_folder",
    "brief",
    "sidecars",
    "MANIFEST",
]

#: the file that marks a folder allyscale published and lists what it wrote there
MANIFEST = ".allyscale-manifest.json"
_STAGING = ".allyscale-staging-"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


# ---------------------------------------------------------------- echoing values
_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6
_REPR.maxlevel = 3


def brief(value: object, limit: int = 80) -> str:
    """A short ``repr`` of ``value`` for an error message (at most about ``limit`` characters).

    Huge integers (whose decimal form Python refuses to build past 4,300 digits) are
    described by their number of digits; nested structures are cut at three levels.
    """
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        if value.bit_length() > 200:
            return f"<an integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
        text = repr(value)
    elif isinstance(value, str):
        text = repr(value[: limit + 1])
    else:
        try:
            text = _REPR.repr(value)
        except Exception:  # a value whose repr fails must not hide the error being reported about it
            text = f"<{type(value).__name__}>"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


# ---------------------------------------------------------------- inputs and outputs
def sidecars(path: str | Path) -> list[Path]:
    """Files that belong to ``path``: its population sidecar and SQLite journal files."""
    p = Path(path)
    return [
        p.with_name(p.stem + ".population.json"),
        p.with_name(p.name + "-wal"),
        p.with_name(p.name + "-shm"),
        p.with_name(p.name + "-journal"),
    ]


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(os.path.abspath(os.fspath(path))))


def _protected(inputs: Iterable[str | Path | None]) -> dict[Path, str]:
    """Resolved path → what it is (an input, or an input's sidecar)."""
    out: dict[Path, str] = {}
    for inp in inputs:
        if inp is None or inp == "":
            continue
        out.setdefault(_real(inp), f"the input file {inp}")
        for side in sidecars(inp):
            out.setdefault(_real(side), f"{side.name}, which belongs to the input {inp}")
    return out


def check_output_path(out: str | Path, inputs: Iterable[str | Path | None] = ()) -> Path:
    """Refuse an output path that is (or belongs to) an input; make sure its folder exists.

    Parameters
    ----------
    out : path
        The file to be written.
    inputs : paths
        Every file the command reads (data, pool, model, study, store); their sidecars
        (``X.population.json``, ``X-wal``, ``X-shm``, ``X-journal``) are protected too.

    Raises
    ------
    DataError
        ``out`` resolves to an input or a sidecar of one, is a folder, or its folder does
        not exist or is not a folder.
    """
    out = Path(out)
    protected = _protected(inputs)
    hit = protected.get(_real(out))
    if hit is None and out.is_file():  # a hard link to an input is the input too
        hit = next((what for p, what in protected.items() if p.is_file() and os.path.samefile(p, out)), None)
    if hit is not None:
        raise DataError(f"{out}: refusing to overwrite {hit}; choose another output path")
    if out.is_dir():
        raise DataError(f"{out}: is a directory; give a file name")
    parent = out.parent
    if not parent.exists():
        # a path through a file ("data.csv/x.json") does not exist either; say which part is a file
        for anc in [parent, *parent.parents]:
            if anc.exists() and not anc.is_dir():
                raise DataError(f"{out}: {anc} is a file, not a folder")
        raise DataError(f"{out}: folder {parent} does not exist")
    if not parent.is_dir():
        raise DataError(f"{out}: {parent} is a file, not a folder")
    return out


def atomic_write(path: str | Path, write: Callable[[Path], None], inputs: Iterable[str | Path | None] = ()) -> Path:
    """Write through a temporary file in the same folder, then rename over ``path``.

    A crash or error leaves any existing file at ``path`` untouched. With ``inputs``
    the path is first checked by :func:`check_output_path`.
    """
    path = check_output_path(path, inputs) if inputs else Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except (FileNotFoundError, NotADirectoryError):
        check_output_path(path)  # names what is wrong with the folder
        raise
    except PermissionError:
        raise DataError(f"{path}: no permission to write in {path.parent}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return path


def atomic_write_text(path: str | Path, text: str, inputs: Iterable[str | Path | None] = ()) -> Path:
    """Atomically write UTF-8 text."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"), inputs)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


# ---------------------------------------------------------------- spreadsheet-safe CSV
def _safe_cell(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def _safe_labels(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        return index.set_levels([_safe_labels(lvl) for lvl in index.levels], verify_integrity=False)
    if index.dtype == object or pd.api.types.is_string_dtype(index.dtype):
        return pd.Index([_safe_cell(v) for v in index], name=_safe_cell(index.name), dtype=object)
    return index.rename(_safe_cell(index.name)) if isinstance(index.name, str) else index


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot run as spreadsheet formulas.

    Every text cell (and column or row label) that starts with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return gets a leading single quote, which spreadsheets
    show as text and do not evaluate (OWASP, "CSV Injection"). Numbers, and text that is
    just a number such as ``"-1.5"``, are left alone: they cannot be formulas.

    References
    ----------
    OWASP Foundation. CSV Injection. https://owasp.org/www-community/attacks/CSV_Injection
    """
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype) or isinstance(s.dtype, pd.CategoricalDtype):
            out[col] = s.astype(object).map(_safe_cell)
    out.columns = _safe_labels(out.columns)
    out.index = _safe_labels(out.index)
    return out


def write_csv(
    path: str | Path, frame: pd.DataFrame, *, index: bool = False, inputs: Iterable[str | Path | None] = ()
) -> Path:
    """Write ``frame`` as spreadsheet-safe CSV (see :func:`spreadsheet_safe`), atomically."""
    safe = spreadsheet_safe(frame)
    return atomic_write(path, lambda p: safe.to_csv(p, index=index), inputs)


# ---------------------------------------------------------------- folders
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2``); False when not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system cannot exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


def _owned(folder: Path, default: Iterable[str]) -> set[str]:
    names = set(default)
    man = folder / MANIFEST
    if man.is_file():
        try:
            names |= set(json.loads(man.read_text(encoding="utf-8")).get("entries", []))
        except (OSError, ValueError, AttributeError, TypeError):
            pass  # an unreadable manifest owns nothing beyond the defaults
    return names | {MANIFEST}


def _link_into(src: Path, dst: Path) -> None:
    """Put ``src`` (a file, link or folder the user keeps there) at ``dst`` without copying data."""
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    elif src.is_dir():
        shutil.copytree(src, dst, symlinks=True, copy_function=os.link)
    else:
        os.link(src, dst)


def _clear_abandoned(parent: Path, name: str) -> None:
    """Remove staging folders of earlier runs that died (their process is gone)."""
    for p in parent.glob(f".{name}{_STAGING}*"):
        try:
            pid = int(p.name.rsplit("-", 2)[-2])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except (ValueError, IndexError, PermissionError, OSError):
            continue


def check_output_folder(
    out_dir: str | Path, *, owned: Iterable[str] = (), inputs: Iterable[str | Path | None] = ()
) -> Path:
    """Refuse an output folder that :func:`publish_folder` could not write safely (call it before the work).

    Raises
    ------
    DataError
        ``out_dir`` is a file, is (or is inside the path of) an input, is the working
        folder or contains it, an input lies where the folder's outputs go, or a parent
        is a file.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
    real = _real(out)
    cwd = _real(Path.cwd())
    if real == cwd or real in cwd.parents:
        raise DataError(
            f"{out}: is the working folder (or contains it); give a folder for the outputs, e.g. --out report/"
        )
    protected = _protected(inputs)
    if real in protected:
        raise DataError(f"{out}: refusing to write over {protected[real]}")
    owned = set(owned)
    for p, what in protected.items():
        if p.exists() and real in p.parents:
            top = p.relative_to(real).parts[0]
            if top in owned or top == MANIFEST:
                raise DataError(f"{out}: would replace {what} ({top}); choose another output folder")
    for anc in [out.parent, *out.parent.parents]:
        if anc.exists():
            if not anc.is_dir():
                raise DataError(f"{out}: {anc} is a file, not a folder")
            break
    return out


def publish_folder(
    out_dir: str | Path, fill: Callable[[Path], None], *, owned: Iterable[str], inputs: Iterable[str | Path | None] = ()
) -> Path:
    """Write a folder of outputs so that it appears complete or not at all.

    ``fill(staging)`` writes everything into a fresh staging folder beside ``out_dir``;
    then the staging folder replaces ``out_dir`` in one atomic rename (an exchange on
    Linux). Entries of an existing ``out_dir`` that allyscale owns — the names in
    ``owned``, and whatever an earlier run listed in the folder's manifest — are
    replaced by this run's, so no stale file survives; any other entry (a file the user
    put there) is kept as it is (hard-linked into the new folder, never copied or
    changed).

    Raises
    ------
    DataError
        ``out_dir`` is a file, is an input, contains the working directory, or an input
        lies where this run writes.
    """
    out = check_output_folder(out_dir, owned=owned, inputs=inputs)
    if out.is_symlink():  # publish into the folder the link points to; the link stays as it is
        out = _real(out)
    owned = set(owned)
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{out}: cannot create the folder {parent} ({exc.strerror})") from None
    _clear_abandoned(parent, out.name)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}{_STAGING}{os.getpid()}-", dir=parent))
    except PermissionError:
        raise DataError(f"{out}: no permission to write in {parent}") from None
    try:
        fill(staging)
        written = sorted(e.name for e in staging.iterdir())
        (staging / MANIFEST).write_text(
            json.dumps({"written_by": "allyscale", "entries": written}, indent=1), encoding="utf-8"
        )
        os.chmod(staging, 0o777 & ~_umask())
        if not out.exists():
            os.rename(staging, out)
            return out
        keep = _owned(out, owned) | set(written)
        for entry in out.iterdir():
            if entry.name not in keep and not (staging / entry.name).exists():
                try:
                    _link_into(entry, staging / entry.name)
                except OSError as exc:
                    raise DataError(
                        f"{out}: cannot keep {entry.name} in the new folder ({exc.strerror}); "
                        "choose an empty output folder"
                    ) from None
        if not _exchange(staging, out):
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}{_STAGING}{os.getpid()}-old-", dir=parent))
            os.rename(out, trash / out.name)
            os.rename(staging, out)
            staging = trash
        return out
    finally:
        shutil.rmtree(staging, ignore_errors=True)
