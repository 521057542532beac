"""The version of rnncast, which model files and checkpoints record."""

__version__ = "0.1.0"
