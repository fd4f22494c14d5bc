"""After the demo, every command it prints works exactly as printed, from the same folder,
without the venv on PATH: no traceback, no surprise database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from brandcare.cli.demo import command_prefix
from tests.conftest import REPO


def _run(
    command: str | list[str], cwd: Path, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    # A shell as a new user has it: the venv's bin/ not on PATH, no BRANDCARE_* variables.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRANDCARE_", "VIRTUAL_ENV"))}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return subprocess.run(
        command,
        cwd=cwd,
        env=env,
        shell=isinstance(command, str),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_printed_command_is_the_venv_script_from_the_project_folder(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(REPO)
    script = Path(sys.executable).parent / "brandcare"
    if not script.is_file():
        pytest.skip("brandcare is not installed as a console script beside this interpreter")
    expected = os.path.relpath(script)
    assert command_prefix() == expected  # ".venv/bin/brandcare": works activated or not


@pytest.mark.model
def test_every_command_the_demo_prints_works_as_printed(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "brandcare"
    if not script.is_file():
        pytest.skip("brandcare is not installed as a console script beside this interpreter")
    demo = _run([str(script), "demo", "--no-serve"], tmp_path)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "Traceback" not in demo.stdout + demo.stderr
    lines = demo.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("next, from this folder"))
    commands = [line.strip() for line in lines[start + 1 :] if line.startswith("  ")]
    assert len(commands) >= 3, demo.stdout
    assert any(" queue" in c for c in commands)
    assert any(" approve " in c for c in commands)
    for command in commands:
        done = _run(command, tmp_path)
        assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
        assert "Traceback" not in done.stdout + done.stderr, command
        if " queue" in command:
            assert "mention:" in done.stdout
        if " approve " in command:
            assert "approved by" in done.stdout, done.stdout
            assert "send sent" in done.stdout, done.stdout
    # Nothing read the default database, so none was made.
    assert not (tmp_path / "brandcare.db").exists()
