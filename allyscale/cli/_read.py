"""How every CLI command reads response data."""

from __future__ import annotations

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
