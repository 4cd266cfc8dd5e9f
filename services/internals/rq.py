"""rq internals: how services/reminders.py runs rq's cron scheduler with the JSON serializer, and knows from when a
signal reaches rq's own handlers (which end its loop) rather than the cron command's."""

from __future__ import annotations

import inspect
import logging
import threading
from contextlib import suppress
from importlib.metadata import version
from typing import Any

from redis.exceptions import RedisError
from rq.cron import CronScheduler
from rq.exceptions import SchedulerNotFound, StopRequested

from services.internals import Use

log = logging.getLogger(__name__)

CHECKED_ON = "3.0.0"
USES = (
    Use("CronScheduler._cron_jobs", "services/reminders.py (cron_scheduler's Scheduler.register)",
        "rq's register() makes rq's own CronJob, whose enqueue uses the default serializer (pickle); the workers "
        "read JSON only, so the platform's JSON cron job is put in the list the scheduler's loop reads, which no "
        "public method accepts."),
    Use("CronScheduler._install_signal_handlers", "services/cli.py (cron)",
        "rq's start() installs the handlers that end its loop (they raise StopRequested) and only then enters the "
        "try that catches it; the cron command sends itself SIGTERM to end rq's loop and must not send it before "
        "those handlers are in place, or its own handler takes it for a request to stop for good."),
)


class KnownHandlers(CronScheduler):
    """rq's cron scheduler that says, by `listening`, whether rq's own signal handlers are installed (from just
    before it registers its birth until start() returns), ends on a signal whenever it comes, and takes cron jobs
    of the platform's own class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listening = threading.Event()

    def _install_signal_handlers(self) -> None:  # noqa: SLF001 - see USES
        super()._install_signal_handlers()  # noqa: SLF001
        self.listening.set()

    def add_cron_job(self, cron_job: Any) -> Any:
        """Put a cron job in the list rq's loop enqueues from."""
        self._cron_jobs.append(cron_job)  # noqa: SLF001 - see USES
        return cron_job

    def start(self) -> None:
        # rq installs its handlers (which raise StopRequested) before it enters the try that catches it: a SIGTERM
        # while it registers its birth, or again while it registers its death, escapes start(). A signal is a
        # request to stop, whenever it comes.
        try:
            super().start()
        except StopRequested:
            log.info("cron scheduler %s: stopped by a signal outside rq's loop", self.name)
            with suppress(StopRequested, SchedulerNotFound, RedisError):
                self.register_death()
        finally:
            self.listening.clear()


def problems() -> list[str]:
    """Return what no longer holds of the uses above in the installed rq (empty when all do)."""
    found = []
    if version("rq") != CHECKED_ON:
        found.append(f"rq {version('rq')} is installed; the uses were checked on {CHECKED_ON}")
    if "self._cron_jobs" not in inspect.getsource(CronScheduler.enqueue_jobs):
        found.append("CronScheduler.enqueue_jobs no longer reads _cron_jobs")
    if "self._install_signal_handlers()" not in inspect.getsource(CronScheduler.start):
        found.append("CronScheduler.start no longer installs its handlers through _install_signal_handlers")
    return found
