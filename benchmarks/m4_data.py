"""Load the M4 competition data (wide CSV files) and reshape it to long format.

The M4 files hold one series per row: column ``V1`` is the series id (``H1``, ``H2``, ...),
columns ``V2...`` the values, right-padded with empty cells to the longest series.

Usage (from the repository root)::

    python benchmarks/m4_data.py ../shared/data/m4 /tmp/m4_hourly_long.parquet
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["read_m4", "read_m4_file", "to_long"]


def read_m4_file(path: str | Path) -> dict[str, np.ndarray]:
    """Read one wide M4 CSV file into ``{series id: float64 values}``.

    The trailing NaN padding of each row is dropped; the order of the file is kept.
    Raises ``ValueError`` if a series has a missing value before its last observation.
    """
    wide = pd.read_csv(path, index_col=0, dtype={"V1": str})
    values = wide.to_numpy(dtype=np.float64)
    observed = ~np.isnan(values)
    # Length = position of the last observed value + 1 (0 for an all-empty row).
    last = values.shape[1] - np.argmax(observed[:, ::-1], axis=1)
    lengths = np.where(observed.any(axis=1), last, 0)
    series: dict[str, np.ndarray] = {}
    for uid, row, n in zip(wide.index.astype(str), values, lengths, strict=True):
        y = row[:n].copy()
        if np.isnan(y).any():
            raise ValueError(f"{path}: series {uid} has missing values inside its history")
        series[uid] = y
    return series


def read_m4(
    folder: str | Path, frequency: str = "Hourly"
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Read ``{frequency}-train.csv`` and ``{frequency}-test.csv`` from ``folder``.

    Returns ``(train, test)``, each ``{series id: float64 values}`` in file order, with the
    right padding removed. Checks that both files hold the same ids in the same order.
    """
    folder = Path(folder)
    train = read_m4_file(folder / f"{frequency}-train.csv")
    test = read_m4_file(folder / f"{frequency}-test.csv")
    if list(train) != list(test):
        raise ValueError(f"{folder}: {frequency} train and test files list different series")
    return train, test


def to_long(
    train: dict[str, np.ndarray], freq: str = "h", start: str = "2000-01-01"
) -> pd.DataFrame:
    """Stack ``{series id: values}`` into a long frame with columns ``unique_id, ds, y``.

    The timestamps ``ds`` are SYNTHETIC: M4 publishes no dates for the Hourly series, so every
    series is given the same origin ``start`` and a regular spacing ``freq`` (any pandas
    frequency alias). Only the order and spacing of ``ds`` carry information; calendar
    features derived from it (hour of day, weekday) do not match the real data.
    Rows are grouped by series in the input order, and sorted by ``ds`` within each series.
    """
    ids = list(train)
    lengths = np.array([len(train[uid]) for uid in ids], dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return pd.DataFrame(
            {
                "unique_id": pd.Series([], dtype=str),
                "ds": pd.Series([], dtype="datetime64[ns]"),
                "y": pd.Series([], dtype=np.float64),
            }
        )
    y = np.concatenate([np.asarray(train[uid], dtype=np.float64) for uid in ids])
    # Position of each value inside its own series: 0, 1, ..., n_i - 1 for every series.
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    position = np.arange(total, dtype=np.int64) - offsets
    calendar = pd.date_range(start=start, periods=int(lengths.max()), freq=freq)
    return pd.DataFrame(
        {
            "unique_id": np.repeat(np.array(ids, dtype=object), lengths).astype(str),
            "ds": calendar[position],
            "y": y,
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the M4 training series in long format.")
    parser.add_argument("folder", nargs="?", default="../shared/data/m4", help="M4 data folder")
    parser.add_argument(
        "output",
        nargs="?",
        default="m4_hourly_long.parquet",
        help="output file; .parquet or .csv (by extension)",
    )
    parser.add_argument("--frequency", default="Hourly", help="M4 frequency file prefix")
    parser.add_argument("--freq", default="h", help="pandas frequency of the synthetic ds")
    parser.add_argument("--start", default="2000-01-01", help="synthetic start timestamp")
    args = parser.parse_args(argv)

    train, _ = read_m4(args.folder, args.frequency)
    long = to_long(train, freq=args.freq, start=args.start)
    out = Path(args.output)
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        long.to_parquet(out, index=False)
    elif suffix == ".csv":
        long.to_csv(out, index=False)
    else:
        parser.error(f"unsupported output extension {out.suffix!r} (use .parquet or .csv)")
    print(f"wrote {len(long)} rows, {long['unique_id'].nunique()} series -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
