"""From a trained network and histories to numbers people use: forecasts with real future
times (`forecasting`, a leaf that knows nothing of calibration), calibrated prediction
intervals (`intervals`), rolling-origin backtests against naive baselines (`backtest`,
`metrics`), and pictures of both (`plots`)."""
