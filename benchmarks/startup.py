"""Start-up cost: how long `rnncast --help` and a nightly `rnncast predict` take, against
the cost of `import torch` measured in the same run.

- `rnncast --help` must not import torch at all, and should answer in under 0.3 s.
- `rnncast predict` on M4 Hourly (414 series, a model trained here with the default network,
  a few optimiser steps: predict does not care how well) end to end, as a cron job runs it
  (a new process), divided by `python -c "import torch"`: target at most 1.5.

Every time is the best of --repeats runs of a fresh process (the least disturbed by other
work on the machine), after one untimed run, with Python's bytecode caches on as in an
installed copy. Usage (from the repository root)::

    python benchmarks/startup.py                 # M4 from ../shared/data/m4
    python benchmarks/startup.py --no-m4         # only the --help check
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common
from m4_data import read_m4, to_long

HELP_TARGET_S = 0.3
PREDICT_RATIO_TARGET = 1.5


def user_env() -> dict[str, str]:
    """This environment as an installed user's shell has it: bytecode caches written and
    read. With PYTHONDONTWRITEBYTECODE set (some CI and container images set it) and a
    checkout that has none yet, every start would compile rnncast's sources again, which
    `pip install` does once."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def best_of(command: list[str], repeats: int, cwd: Path | None = None) -> float:
    """The shortest wall time of `repeats` runs of `command` (each must succeed), after
    one untimed run that leaves the bytecode caches in place."""
    env = user_env()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, env=env)
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - began)
    return min(times)


def help_imports_torch() -> bool:
    probe = (
        "import sys\n"
        "sys.argv = ['rnncast', '--help']\n"
        "from rnncast.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write(str('torch' in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return done.stderr.strip().endswith("True")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="rnncast start-up times vs import torch.")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/m4"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-m4", action="store_true", help="skip the predict measurement")
    parser.add_argument("--out", type=Path, default=Path("results/startup.json"))
    args = parser.parse_args(argv)
    rnncast = [sys.executable, "-m", "rnncast"]

    torch_s = best_of([sys.executable, "-c", "import torch"], args.repeats)
    python_s = best_of([sys.executable, "-c", "pass"], args.repeats)
    help_s = best_of([*rnncast, "--help"], args.repeats)
    imports = help_imports_torch()
    met = help_s < HELP_TARGET_S and not imports
    rows = [
        ["python -c pass", f"{python_s:.3f}", "", ""],
        ["python -c 'import torch'", f"{torch_s:.3f}", "1.00", ""],
        ["rnncast --help", f"{help_s:.3f}", f"{help_s / torch_s:.2f}",
         f"< {HELP_TARGET_S} s, no torch: {'MET' if met else 'MISSED'} (imports torch: {imports})"],
    ]  # fmt: skip
    results = {"import_torch_s": torch_s, "python_s": python_s, "help_s": help_s,
               "help_imports_torch": imports}  # fmt: skip

    if not args.no_m4:
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            train, _ = read_m4(args.data)
            to_long(train).to_parquet(work / "m4.parquet", index=False)
            subprocess.run(
                [*rnncast, "train", "m4.parquet", "--horizon", "48", "--ensemble", "1",
                 "--max-steps", "5", "--quiet"],
                cwd=work, check=True,
            )  # fmt: skip
            predict_s = best_of([*rnncast, "predict", "--quiet"], args.repeats, cwd=work)
        ratio = predict_s / torch_s
        rows.append(
            ["rnncast predict (M4 Hourly, 414 series)", f"{predict_s:.3f}", f"{ratio:.2f}",
             f"<= {PREDICT_RATIO_TARGET}: {'MET' if ratio <= PREDICT_RATIO_TARGET else 'MISSED'}"]
        )  # fmt: skip
        results.update(predict_s=predict_s, predict_over_import_torch=ratio)

    print(common.markdown_table(["command", "best seconds", "/ import torch", "target"], rows))
    common.write_json(args.out, {"machine": common.machine_info(), "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
