"""CPU threads: physical cores from the topology, affinity and cgroup quota; --threads."""

from __future__ import annotations

import os

import pytest
import torch

import rnncast
from rnncast.engine import threads
from rnncast.errors import ConfigError
from tests.conftest import make_long

CPUINFO_TWO_SOCKETS_HYPERTHREADED = "\n\n".join(
    f"processor\t: {cpu}\nvendor_id\t: GenuineIntel\nphysical id\t: {cpu // 4}\n"
    f"siblings\t: 4\ncore id\t\t: {cpu % 2}\ncpu cores\t: 2\nflags\t\t: fpu vme"
    for cpu in range(8)
)  # cpus 0-3 on package 0, 4-7 on package 1; cores 0 and 1 of each hold two cpus


def test_parse_cpuinfo():
    topology = threads.parse_cpuinfo(CPUINFO_TWO_SOCKETS_HYPERTHREADED)
    assert topology == {
        0: ("0", "0"), 1: ("0", "1"), 2: ("0", "0"), 3: ("0", "1"),
        4: ("1", "0"), 5: ("1", "1"), 6: ("1", "0"), 7: ("1", "1"),
    }  # fmt: skip
    assert threads.parse_cpuinfo("processor\t: 0\nmodel name\t: ARMv8\n") == {}


def test_physical_cores_counts_each_core_once_among_the_allowed_cpus():
    topology = threads.parse_cpuinfo(CPUINFO_TWO_SOCKETS_HYPERTHREADED)
    assert threads.physical_cores(list(range(8)), topology) == 4
    assert threads.physical_cores([0, 2], topology) == 1  # two hyperthreads of one core
    assert threads.physical_cores([0, 1, 4], topology) == 3  # same core id, other package
    assert threads.physical_cores([0, 9], topology) is None  # cpu 9's topology unknown
    assert threads.physical_cores([], topology) is None


@pytest.mark.parametrize(
    ("args", "cpus"),
    [
        ({"cpu_max": "max 100000\n"}, None),
        ({"cpu_max": "150000 100000\n"}, 2),  # 1.5 CPUs: round up
        ({"cpu_max": "50000 100000"}, 1),
        ({"cpu_max": "400000"}, 4),  # period left out: the kernel's default 100000
        ({"quota_us": "-1\n", "period_us": "100000\n"}, None),  # cgroup v1, no limit
        ({"quota_us": "300000", "period_us": "100000"}, 3),
        ({}, None),
    ],
)
def test_cgroup_quota(args, cpus):
    assert threads.parse_cgroup_quota(**args) == cpus


def test_usable_cores_takes_the_smaller_of_cores_and_quota(monkeypatch):
    topology = threads.parse_cpuinfo(CPUINFO_TWO_SOCKETS_HYPERTHREADED)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(threads, "_topology", lambda cpus: topology)
    monkeypatch.setattr(threads, "cgroup_quota", lambda: None)
    assert threads.usable_cores() == 4
    monkeypatch.setattr(threads, "cgroup_quota", lambda: 3)
    assert threads.usable_cores() == 3
    monkeypatch.setattr(threads, "_topology", lambda cpus: {})
    assert threads.usable_cores() is None  # unknown topology: torch's default


def test_usable_cores_on_this_machine():
    cores = threads.usable_cores()
    if hasattr(os, "sched_getaffinity"):
        assert cores is not None and 1 <= cores <= len(os.sched_getaffinity(0))


def test_default_threads(monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 8)
    assert threads.default_threads({}) == 8
    assert threads.default_threads({"OMP_NUM_THREADS": "3"}) == 3  # the user's choice
    assert threads.default_threads({"OMP_NUM_THREADS": "x"}) == 8
    # torchrun: the machine's cores shared by its processes; the OMP_NUM_THREADS=1 that
    # torchrun sets itself says nothing, another value is the user's
    torchrun = {"LOCAL_WORLD_SIZE": "3", "OMP_NUM_THREADS": "1"}
    assert threads.default_threads(torchrun) == 2
    assert threads.default_threads({**torchrun, "LOCAL_WORLD_SIZE": "16"}) == 1
    assert threads.default_threads({**torchrun, "OMP_NUM_THREADS": "2"}) == 2
    monkeypatch.setattr(threads, "usable_cores", lambda: None)
    assert threads.default_threads({}) is None
    monkeypatch.setattr(threads, "cpus", lambda: 8)
    assert threads.resolve(5, {}) == 5


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "--threads must be at least 1, got 0"),
        (-2, "--threads must be at least 1, got -2"),
        (1.5, "--threads must be a whole number, got '1.5'"),
        (True, "--threads must be a whole number, got 'True'"),
    ],
)
def test_bad_threads(value, message):
    with pytest.raises(ConfigError) as e:
        threads.check(value)
    assert str(e.value) == message


def test_no_more_threads_than_cpus(monkeypatch):
    """--threads 100000 crashed the process (torch could not start that many threads)."""
    monkeypatch.setattr(threads, "cpus", lambda: 4)
    assert threads.check(4) == 4
    with pytest.raises(ConfigError) as e:
        threads.check(100_000)
    assert str(e.value) == (
        "--threads 100000 is more than the 4 CPUs this process may use: give at most 4, or "
        "leave --threads out for one per physical core"
    )
    assert threads.cpus() >= 1


def test_using_sets_and_restores():
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with threads.using(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before
    with threads.using(None):
        assert torch.get_num_threads() == before


def test_the_python_api_takes_threads(threads_used):
    frame = make_long(n_series=1, length=120)
    fast = dict(max_epochs=1, epoch_size=64, batch_size=32, hidden_size=4, ensemble=1,
                device="cpu", horizon=6)  # fmt: skip
    model = rnncast.train(frame, threads=1, **fast)
    rnncast.predict(model, frame, threads=1)
    rnncast.evaluate(model, frame)
    assert threads_used == [1, 1, None]
    with pytest.raises(ConfigError) as e:
        rnncast.train(frame, threads=0, **fast)
    assert str(e.value) == "--threads must be at least 1, got 0"
    with pytest.raises(TypeError) as e:
        rnncast.train(frame, thread=2, **fast)
    assert str(e.value) == "train() got an unexpected option 'thread'; did you mean 'threads'?"


def test_idle_openmp_threads_sleep_soon_unless_the_user_said_how_they_wait():
    env: dict[str, str] = {}
    threads.wait_politely(env)
    assert env == {"GOMP_SPINCOUNT": threads.SPIN_COUNT}
    for mine in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "300000"}):
        env = dict(mine)
        threads.wait_politely(env)
        assert env == mine  # the user's choice wins


def test_the_package_sets_the_spin_count_before_torch_loads():
    import subprocess
    import sys

    probe = "import os, rnncast, torch; print(os.environ.get('GOMP_SPINCOUNT'))"
    env = {k: v for k, v in os.environ.items() if k not in threads.WAIT_SETTINGS}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == threads.SPIN_COUNT


REAL_BUSY_CPUS = threads.busy_cpus  # the conftest's quiet_machine replaces it in each test


def test_busy_cpus_reads_the_machines_non_idle_time(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    samples = iter([
        "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 2 3\n",
        "cpu  150 0 150 900 0 0 0 0 0 0\ncpu0 1 2 3\n",  # 100 of 200 jiffies busy
    ])  # fmt: skip
    monkeypatch.setattr(threads, "PROC_STAT", stat)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(threads.time, "sleep", lambda s: stat.write_text(next(samples)))
    stat.write_text(next(samples))
    assert REAL_BUSY_CPUS() == 2.0  # half of 4 CPUs
    monkeypatch.setattr(threads, "PROC_STAT", tmp_path / "none")
    assert REAL_BUSY_CPUS() == 0.0  # not Linux: nothing known, nothing left out


def test_the_default_leaves_the_cores_others_keep_busy(monkeypatch):
    """Beside one busy process on 2 cores, 2 threads trained at 0.60 of a fair share and 1
    thread at 0.99 (benchmarks/contention.py)."""
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    for busy, expected in ((0.2, 4), (1.0, 3), (2.6, 1), (9.0, 1)):
        monkeypatch.setattr(threads, "busy_cpus", lambda seconds=0.0, b=busy: b)
        assert threads.default_threads({}) == expected
    assert threads.default_threads({"OMP_NUM_THREADS": "4"}) == 4  # the user's choice
    assert threads.default_threads({"LOCAL_WORLD_SIZE": "2"}) == 2  # torchrun: its share
