"""The operator's command line: it finds the private servers a running ./scripts/run started, and a failure is
one line on stderr, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import free_port

from services import embedded

ROOT = Path(__file__).resolve().parents[2]


def test_the_run_commands_servers_are_announced_while_it_runs_and_forgotten_after(tmp_path):
    started = embedded.EmbeddedServices(env={"DATABASE_URL": "postgresql://x@/db?host=/sock", "REDIS_URL": "unix:///r"})
    embedded.announce(tmp_path, started)
    assert oct((tmp_path / embedded.RUNNING).stat().st_mode & 0o777) == "0o600"
    assert embedded.running(tmp_path) == started.env
    embedded.withdraw(tmp_path)
    assert embedded.running(tmp_path) == {}


def test_an_announcement_of_a_run_command_that_died_is_ignored(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / embedded.RUNNING).write_text(f'{{"pid": {dead.pid}, "DATABASE_URL": "postgresql://gone"}}')
    assert embedded.running(tmp_path) == {}
    (tmp_path / embedded.RUNNING).write_text("not json")
    assert embedded.running(tmp_path) == {}


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run([sys.executable, "-m", "services.cli", *args], env={**environ, **env}, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_a_failing_command_says_why_in_one_line_without_a_traceback():
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres?connect_timeout=2"
    for result in (_cli("verify", DATABASE_URL=unreachable), _cli("export", "not-a-uuid", "/nonexistent",
                                                                   DATABASE_URL=unreachable)):
        assert result.returncode == 1
        assert "Traceback" not in result.stderr, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.startswith("methodical ")]
        assert len(lines) == 1, result.stderr
