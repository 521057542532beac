"""CPU threads for torch: a default of one per physical core, and `--threads N` to override.

Hyperthreads share a core's arithmetic units, so a compute-bound loop such as an RNN's
gains little from them and loses to the contention; the default is therefore the number of
physical cores this process may use: the CPUs of its affinity mask (`taskset`, cpusets),
counted once per (package, core) pair from the kernel's topology, and no more than a cgroup
CPU quota allows (containers), less the CPUs other processes keep busy when the run starts
(`busy_cpus`: a thread that shares its core holds up every parallel step). Under torchrun
the processes of one machine share it, so each gets its share: cores // local world size,
at least 1. When the topology cannot be read (not Linux, a locked-down container) the
default is torch's own.

An `OMP_NUM_THREADS` set in the environment is the user's choice and wins, except a value of
1 under torchrun: torchrun sets that itself when it starts several processes on a machine, so
it says nothing about what the user wanted (`--threads 1` says it).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path

from rnncast.errors import ConfigError

SYS_CPU = Path("/sys/devices/system/cpu")
CGROUP = Path("/sys/fs/cgroup")


# How long, in spins, an idle OpenMP thread of GNU libgomp (torch's on Linux) waits actively
# before it sleeps. libgomp's own default, 300,000, keeps a thread spinning through the gaps
# between an RNN's many small parallel regions: on an idle machine it wins a little, but when
# another process takes a core, threads spin while the one that holds the work waits for a
# core (benchmarks/contention.py: 2-3x slower than a fair share beside two busy processes).
# 1,000 spins cost nothing measurable alone and keep a fair share under contention.
SPIN_COUNT = "1000"
WAIT_SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def wait_politely(environ: MutableMapping[str, str] | None = None) -> None:
    """Let idle OpenMP threads sleep soon (GOMP_SPINCOUNT), unless the environment already
    says how they wait: a user's OMP_WAIT_POLICY or GOMP_SPINCOUNT wins. It must run before
    torch is imported (libgomp reads it once, when it loads): the `rnncast` package does."""
    env = os.environ if environ is None else environ
    if not any(name in env for name in WAIT_SETTINGS):
        env["GOMP_SPINCOUNT"] = SPIN_COUNT


def check(threads: int | None) -> int | None:
    """`--threads` as given: None (the default) or a whole number from 1 to the CPUs this
    process may use (more only wait for each other, and tens of thousands crash torch)."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)):
        raise ConfigError(f"--threads must be a whole number, got '{threads}'")
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {threads}")
    most = cpus()
    if threads is not None and threads > most:
        raise ConfigError(
            f"--threads {threads} is more than the {most} CPUs this process may use: give at "
            f"most {most}, or leave --threads out for one per physical core"
        )
    return threads


def cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def default_threads(environ: dict[str, str] | None = None) -> int | None:
    """Threads for this process when `--threads` is not given; None: torch's own default."""
    env = os.environ if environ is None else environ
    local = _positive(env.get("LOCAL_WORLD_SIZE", ""))
    omp = _positive(env.get("OMP_NUM_THREADS", ""))
    if omp is not None and (local is None or omp != 1):
        return omp
    cores = usable_cores()
    if cores is None:
        return None
    if local is None and cores > 1:
        cores -= math.floor(busy_cpus() + 0.5)  # leave the cores others use now
    return max(1, cores // (local or 1))


PROC_STAT = Path("/proc/stat")
SAMPLE_SECONDS = 0.1


def busy_cpus(seconds: float = SAMPLE_SECONDS) -> float:
    """How many CPUs other processes keep busy now: the machine's non-idle time over
    `seconds` of /proc/stat, while this process sleeps; 0 where it cannot be read. Two
    threads on two cores run every parallel step at the pace of the one that shares its core
    with another process (benchmarks/contention.py), so the default leaves those cores."""
    first = _cpu_times()
    if first is None:
        return 0.0
    time.sleep(seconds)
    second = _cpu_times()
    if second is None or second[0] <= first[0]:
        return 0.0
    total, idle = second[0] - first[0], second[1] - first[1]
    return (total - idle) / total * (os.cpu_count() or 1)


def _cpu_times() -> tuple[int, int] | None:
    """(all, idle + iowait) jiffies of /proc/stat's 'cpu' line; None where it has none."""
    text = _read(PROC_STAT)
    fields = text.splitlines()[0].split() if text else []
    if len(fields) < 6 or fields[0] != "cpu":
        return None
    numbers = [int(f) for f in fields[1:9] if f.isdigit()]
    return sum(numbers), numbers[3] + numbers[4]


def resolve(threads: int | None, environ: dict[str, str] | None = None) -> int | None:
    """`--threads` if given, else the default (None where it cannot be worked out)."""
    return check(threads) if threads is not None else default_threads(environ)


@contextlib.contextmanager
def using(threads: int | None) -> Iterator[None]:
    """torch uses `threads` CPU threads inside the block (None: as it is), and as many as
    before after it, so that a library call or an in-process test changes nothing beyond."""
    import torch

    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---- what the machine offers ------------------------------------------------------------


def usable_cores() -> int | None:
    """Physical cores among the CPUs this process may run on, capped by a cgroup quota."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return None
    cores = physical_cores(cpus, _topology(cpus))
    if cores is None:
        return None
    quota = cgroup_quota()
    return min(cores, quota) if quota is not None else cores


def physical_cores(cpus: list[int], topology: dict[int, tuple[str, str]]) -> int | None:
    """How many distinct (package, core) pairs the logical `cpus` sit on; None when the
    topology of any of them is unknown."""
    if not cpus or any(cpu not in topology for cpu in cpus):
        return None
    return len({topology[cpu] for cpu in cpus})


def parse_cpuinfo(text: str) -> dict[int, tuple[str, str]]:
    """{logical cpu: (physical id, core id)} from /proc/cpuinfo (x86 lists both)."""
    out: dict[int, tuple[str, str]] = {}
    for block in re.split(r"\n\s*\n", text):
        fields = dict(
            (k.strip(), v.strip())
            for k, _, v in (line.partition(":") for line in block.splitlines())
        )
        if fields.get("processor", "").isdigit() and "core id" in fields:
            out[int(fields["processor"])] = (fields.get("physical id", "0"), fields["core id"])
    return out


def parse_cgroup_quota(cpu_max: str | None = None, quota_us: str | None = None,
                       period_us: str | None = None) -> int | None:  # fmt: skip
    """Whole CPUs a cgroup quota allows (rounded up), from cgroup v2's `cpu.max`
    ('max 100000' or '200000 100000') or v1's cfs quota and period; None: no limit."""
    if cpu_max is not None:
        quota, _, period = cpu_max.strip().partition(" ")
    else:
        quota, period = (quota_us or "").strip(), (period_us or "").strip()
    try:
        q, p = int(quota), int(period or 100000)
    except ValueError:  # 'max', or nothing
        return None
    return max(1, math.ceil(q / p)) if q > 0 and p > 0 else None


def cgroup_quota() -> int | None:
    """The CPU quota of this process's cgroup (v2, else v1), in whole CPUs; None: none."""
    v2 = _read(CGROUP / _cgroup_path() / "cpu.max") or _read(CGROUP / "cpu.max")
    if v2:
        return parse_cgroup_quota(cpu_max=v2)
    v1 = CGROUP / "cpu"
    return parse_cgroup_quota(
        quota_us=_read(v1 / "cpu.cfs_quota_us"), period_us=_read(v1 / "cpu.cfs_period_us")
    )


def _topology(cpus: list[int]) -> dict[int, tuple[str, str]]:
    """{cpu: (package, core)} from sysfs, else from /proc/cpuinfo."""
    out = {}
    for cpu in cpus:
        base = SYS_CPU / f"cpu{cpu}" / "topology"
        package, core = _read(base / "physical_package_id"), _read(base / "core_id")
        if package and core:
            out[cpu] = (package.strip(), core.strip())
    if len(out) == len(cpus):
        return out
    return parse_cpuinfo(_read(Path("/proc/cpuinfo")) or "")


def _cgroup_path() -> str:
    """This process's cgroup v2 path (relative), from /proc/self/cgroup's '0::/path' line."""
    for line in (_read(Path("/proc/self/cgroup")) or "").splitlines():
        if line.startswith("0::"):
            return line[3:].strip().lstrip("/")
    return ""


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def _positive(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and int(text) >= 1 else None
