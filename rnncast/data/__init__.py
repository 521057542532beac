"""Reading time series into one validated set: the series types, readers of CSV and Parquet,
layout detection, parsing of columns, building and checking the series, filling gaps, the
time axis, calendar cycles and the index arithmetic of windows.

Everything wrong with the data is found here, before any training, and reported as a
`DataError` whose one-line message says what, where (line of a CSV, row of a Parquet file)
and how to fix it. Nothing here imports torch.
"""
