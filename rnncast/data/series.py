"""The series types every part of rnncast shares: `Schema` (how a file's columns map onto
series) and `SeriesSet` (many series in one flat float32 array with offsets, ids, first and
last times and the time axis).

Layouts:

- long: one row per (series id, time, value), `unique_id, ds, y` by default;
- wide: a time column and one numeric column per series;
- values: numeric columns and no time column at all (times are row numbers 0, 1, 2, ...).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rnncast.data.timeaxis import TimeAxis

DEFAULT_ID, DEFAULT_TIME, DEFAULT_TARGET = "unique_id", "ds", "y"


@dataclass(frozen=True)
class Schema:
    """How the columns of a file map onto series.

    `id_col` and `time_col` are the names the output uses for ids and times (the input's
    own names, or `unique_id` / `ds` where the input has no such column). `columns` lists
    the series columns of wide and values layouts.
    """

    layout: str
    id_col: str
    time_col: str
    target: str
    columns: tuple[str, ...] = ()

    @property
    def has_time(self) -> bool:
        return self.layout != "values"

    def describe(self) -> str:
        if self.layout == "long":
            return f"long (id '{self.id_col}', time '{self.time_col}', value '{self.target}')"
        cols = ", ".join(self.columns[:4]) + (", ..." if len(self.columns) > 4 else "")
        if self.layout == "wide":
            return f"wide (time '{self.time_col}'; series columns {cols})"
        return f"values without times (series columns {cols})"

    def to_dict(self) -> dict:
        return {
            "layout": self.layout,
            "id_col": self.id_col,
            "time_col": self.time_col,
            "target": self.target,
            "columns": list(self.columns),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Schema:
        return cls(
            layout=data["layout"],
            id_col=data["id_col"],
            time_col=data["time_col"],
            target=data["target"],
            columns=tuple(data.get("columns", ())),
        )


@dataclass
class SeriesSet:
    """Many series in one flat float32 array: series i is `values[offsets[i]:offsets[i+1]]`.

    Times are on a regular grid (checked when reading), so each series is described by its
    first and last time; `axis` says how times advance.

    Future-known covariates (`known`) run past the values: series i's are
    `known[known_offsets[i]:known_offsets[i+1]]`, one row per step from its first time, its
    values' steps first, then the steps after its last value (`ahead`) that the data gave.
    """

    ids: np.ndarray
    values: np.ndarray
    offsets: np.ndarray
    starts: pd.Index
    ends: pd.Index
    axis: TimeAxis
    schema: Schema
    source: str = "<data>"
    notes: tuple[str, ...] = ()  # what reading changed (filled values): warnings to show
    detected: tuple[str, ...] = ()  # what reading found out by itself (separator, ...): info
    read_as: dict[str, Any] = dataclasses.field(default_factory=dict)  # ... as read options
    covariates: np.ndarray | None = None  # (len(values), C) float32: past covariates
    known: np.ndarray | None = None  # (rows, F) float32: future-known covariates
    known_offsets: np.ndarray | None = None  # (S + 1,) int64: each series' rows of `known`

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def ahead(self) -> np.ndarray:
        """Steps of future-known covariates after each series' last value (0 without)."""
        if self.known_offsets is None:
            return np.zeros(len(self.ids), dtype=np.int64)
        return np.diff(self.known_offsets) - self.lengths

    def known_at_values(self) -> np.ndarray | None:
        """The future-known covariates of the values' steps (len(values), F), or None."""
        if self.known is None or self.known_offsets is None:
            return None
        lengths = self.lengths
        shift = np.repeat(self.known_offsets[:-1] - self.offsets[:-1], lengths)
        return self.known[np.arange(len(self.values)) + shift]

    def __len__(self) -> int:
        return len(self.ids)

    def series(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    def shorter_than(self, need: int) -> tuple[int, str]:
        """How many series have fewer than `need` values, and the first few of them in
        words: "'a' (12), 'b' (30) and 4 more"."""
        short = np.flatnonzero(self.lengths < need)
        names = ", ".join(f"'{self.ids[i]}' ({self.lengths[i]})" for i in short[:3])
        more = f" and {len(short) - 3} more" if len(short) > 3 else ""
        return len(short), names + more

    def subset(self, keep: np.ndarray) -> SeriesSet:
        """The series where `keep` (one bool per series) is true."""
        keep = np.asarray(keep, dtype=bool)
        lengths = self.lengths[keep]
        return dataclasses.replace(
            self,
            ids=self.ids[keep],
            values=self.values[np.repeat(keep, self.lengths)],
            covariates=None
            if self.covariates is None
            else self.covariates[np.repeat(keep, self.lengths)],
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            starts=self.starts[keep],
            ends=self.ends[keep],
            **self._known_subset(keep),
        )

    def _known_subset(self, keep: np.ndarray) -> dict[str, Any]:
        if self.known is None or self.known_offsets is None:
            return {}
        rows = np.diff(self.known_offsets)
        return {
            "known": self.known[np.repeat(keep, rows)],
            "known_offsets": np.concatenate([[0], np.cumsum(rows[keep])]).astype(np.int64),
        }

    def fingerprint(self) -> str:
        """A SHA-256 of the values, series lengths, ids and first times."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.values))  # the buffer itself, not a bytes copy
        h.update(np.ascontiguousarray(self.offsets, dtype=np.int64))
        h.update("\x1f".join(map(str, self.ids)).encode())
        h.update("\x1f".join(map(str, self.starts)).encode())
        if self.covariates is not None:
            h.update(np.ascontiguousarray(self.covariates))
        known = self.known_at_values()  # the history's: not the rows after it, which change
        if known is not None:
            h.update(np.ascontiguousarray(known))
        return h.hexdigest()
