"""rnncast: recurrent forecasting (RNN / LSTM / GRU) from the command line, and from Python:

    import rnncast
    model = rnncast.train(frame, horizon=24)
    forecast = rnncast.predict(model, frame)
    rnncast.export(model, "model.onnx")    # one ONNX graph (the rnncast[onnx] extra)

(see `rnncast.library`). The package imports nothing heavy until one of these is used, so
`rnncast --help` stays fast.
"""

from __future__ import annotations

from typing import Any

from rnncast.engine.threads import wait_politely
from rnncast.version import __version__

wait_politely()  # before torch loads OpenMP: fair to other processes on a busy machine

__all__ = ["__version__", "evaluate", "export", "load", "onnx_inputs", "predict", "train"]
_API = ("train", "predict", "evaluate", "load", "export", "onnx_inputs")


def __getattr__(name: str) -> Any:
    if name in _API:
        from rnncast import library

        return getattr(library, name)
    raise AttributeError(f"module 'rnncast' has no attribute '{name}'")
