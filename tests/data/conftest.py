"""Helpers for the data tests: files written from text, and the one-line error a file
gives."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnncast.data.readers import load
from rnncast.errors import DataError
from rnncast.settings import ReadOptions


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def csv(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    """A CSV file from lines given without their trailing newline."""
    return write(tmp_path, name, text.strip() + "\n")


def parquet(path: Path, columns: dict) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def error(path: Path, options: ReadOptions | None = None, kind=DataError) -> str:
    with pytest.raises(kind, match=None) as e:
        load(path, options)
    return str(e.value)


def stamps(*texts: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(t) for t in texts]


LONG = """
unique_id,ds,y
a,2024-01-01,1
a,2024-01-02,2
a,2024-01-03,3
b,2024-01-02,10
b,2024-01-03,20
b,2024-01-04,30
b,2024-01-05,40
"""
