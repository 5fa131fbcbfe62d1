"""How every CLI command reads response data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from allyscale.errors import DataError
from allyscale.pool import ItemPool


def read_data(path: str, pool: ItemPool | None = None) -> pd.DataFrame:
    """Read a response file (CSV) and check the pool's items are present."""
    try:
        data = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read as CSV ({exc})") from None
    if pool is not None:
        missing = [i for i in pool.item_ids if i not in data.columns]
        if missing:
            raise DataError(f"{path}: the pool's item(s) {missing[:20]} are not columns of the file"
                            + (f" (and {len(missing) - 20} more)" if len(missing) > 20 else ""))
    return data


def read_model(path: str) -> str:
    """Read a lavaan model file, with an error naming the file when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: model file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the model file ({exc})") from None
