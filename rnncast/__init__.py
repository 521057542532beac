"""rnncast: recurrent forecasting (RNN / LSTM / GRU) from the command line.

The package imports nothing heavy at import time, so `rnncast --help` stays fast.
"""

__version__ = "0.1.0"
