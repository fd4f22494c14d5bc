"""How a process scores: lanes and torch threads fitted to its share of the cores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from brandcare.config import Settings
from brandcare.ops import layout
from brandcare.ops.layout import ScoringLayout, loads_model, scoring_layout


def _on(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """``n`` cores, and no layout settings in the environment (a shell or a worker may
    have set them)."""
    monkeypatch.setattr(layout, "usable_cores", lambda: n)
    for name in ("BRANDCARE_SCORE_LANES", "BRANDCARE_SCORE_THREADS"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("cores", "processes", "worker_threads", "expected"),
    [
        # One process on two cores, two worker threads: two lanes of one thread.
        (2, 1, 2, ScoringLayout(2, 1)),
        # Two processes on two cores: a core each, one lane of one thread.
        (2, 2, 2, ScoringLayout(1, 1)),
        # One worker thread: one lane, given every core.
        (8, 1, 1, ScoringLayout(1, 8)),
        # Many cores, many threads: lanes stop at MAX_AUTO_LANES, threads share the rest.
        (16, 1, 8, ScoringLayout(layout.MAX_AUTO_LANES, 16 // layout.MAX_AUTO_LANES)),
        # More processes than cores: still one lane of one thread each.
        (2, 4, 2, ScoringLayout(1, 1)),
    ],
)
def test_the_layout_fits_the_process_share_of_the_cores(
    monkeypatch: pytest.MonkeyPatch,
    cores: int,
    processes: int,
    worker_threads: int,
    expected: ScoringLayout,
) -> None:
    _on(monkeypatch, cores)
    layout = scoring_layout(Settings(), processes=processes, worker_threads=worker_threads)
    assert layout == expected


def test_settings_win_over_the_fitted_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    _on(monkeypatch, 8)
    assert scoring_layout(Settings(score_lanes=3)) == ScoringLayout(3, 2)
    assert scoring_layout(Settings(score_threads=5)) == ScoringLayout(2, 5)
    assert scoring_layout(Settings(score_lanes=1, score_threads=1)) == ScoringLayout(1, 1)


def test_stages_take_turns_only_with_a_forward_pass_split_across_threads() -> None:
    assert ScoringLayout(1, 2).exclusive
    assert not ScoringLayout(2, 1).exclusive
    assert not ScoringLayout(1, 1).exclusive


def test_a_worker_loads_the_model_only_for_the_queues_that_run_it() -> None:
    assert loads_model(None)
    assert loads_model("")
    assert loads_model("poll,score")
    assert loads_model("draft")
    assert not loads_model("send")
    assert not loads_model("poll, send,insights")


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_cgroup_v2_limit_is_read_and_the_tightest_along_the_hierarchy_wins(tmp_path):
    _tree(
        tmp_path,
        {
            "proc": "0::/kubepods/pod1/app\n",
            "fs/cpu.max": "max 100000\n",
            "fs/kubepods/pod1/cpu.max": "150000 100000\n",
            "fs/kubepods/pod1/app/cpu.max": "400000 100000\n",
        },
    )
    assert layout.cpu_quota(tmp_path / "fs", tmp_path / "proc") == 1.5


def test_cgroup_v2_without_a_limit_and_unreadable_files_mean_no_quota(tmp_path):
    _tree(tmp_path, {"proc": "0::/\n", "fs/cpu.max": "max 100000\n"})
    assert layout.cpu_quota(tmp_path / "fs", tmp_path / "proc") is None
    _tree(tmp_path, {"fs/cpu.max": "garbage\n"})
    assert layout.cpu_quota(tmp_path / "fs", tmp_path / "proc") is None
    assert layout.cpu_quota(tmp_path / "fs", tmp_path / "missing") is None


def test_cgroup_v1_quota_inside_a_container_reads_the_mount_itself(tmp_path):
    # The path names the host's group; the container's mount shows only its own.
    _tree(
        tmp_path,
        {
            "proc": "4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n0::/\n",
            "fs/cpu,cpuacct/cpu.cfs_quota_us": "200000\n",
            "fs/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
        },
    )
    assert layout.cpu_quota(tmp_path / "fs", tmp_path / "proc") == 2.0
    _tree(tmp_path, {"fs/cpu,cpuacct/cpu.cfs_quota_us": "-1\n"})
    assert layout.cpu_quota(tmp_path / "fs", tmp_path / "proc") is None


@pytest.mark.parametrize(("quota", "cores"), [(None, 8), (2.0, 2), (1.5, 1), (0.5, 1), (64.0, 8)])
def test_usable_cores_is_the_affinity_cut_to_whole_cpus_of_the_quota(monkeypatch, quota, cores):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(layout, "cpu_quota", lambda: quota)
    assert layout.usable_cores() == cores


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["/venv/bin/dramatiq", "brandcare.worker", "--processes", "2", "--threads", "4"],
            layout.WorkerCommand(2, 4),
        ),
        (
            ["/x/site-packages/dramatiq/__main__.py", "brandcare.worker", "-p", "3", "-Q", "send"],
            layout.WorkerCommand(3, 8, "send"),
        ),
        (
            ["/venv/bin/dramatiq", "brandcare.worker", "-Q", "poll", "score", "-t", "2"],
            layout.WorkerCommand(os.cpu_count() or 1, 2, "poll,score"),
        ),
        (["/venv/bin/pytest", "-p", "no:cacheprovider"], None),  # not Dramatiq's CLI
        (["/venv/bin/dramatiq", "brandcare.worker", "--processes", "two"], None),
        ([], None),
    ],
)
def test_a_worker_started_by_dramatiq_reads_its_shape_from_the_command_line(argv, expected):
    assert layout.dramatiq_command(argv) == expected


def test_processes_started_directly_by_dramatiq_share_the_cores(monkeypatch):
    # `dramatiq brandcare.worker -p 2 -t 8` on 2 cores: one lane of one thread each,
    # not two lanes each (four model copies on two cores).
    _on(monkeypatch, 2)
    command = layout.dramatiq_command(["/venv/bin/dramatiq", "brandcare.worker", "-p", "2"])
    assert command is not None
    fitted = scoring_layout(Settings(), processes=command.processes, worker_threads=command.threads)
    assert fitted == ScoringLayout(lanes=1, threads=1)
