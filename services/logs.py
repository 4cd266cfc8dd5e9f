"""Structured logs (ADR 024): one JSON object a line, on stderr, from every process of the platform.

Every record goes through the standard `logging` module, ours and the libraries' alike (gunicorn, rq, eventsourcing),
and python-json-logger's formatter writes it as JSON. The request (or job) a record was made in adds its id: the
same id that the events it recorded carry in their metadata (`request_id`), so that an auditor's event leads to the
line of the request that caused it, and to the lines of the jobs that request caused.

What is never logged: a token, a password, a document's or a decision's text, a request or response body. The
request line names the route and the path (link secrets redacted, no query string), the status and the time taken.
"""

from __future__ import annotations

import contextvars
import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pythonjsonlogger.json import JsonFormatter

# The request or job whose work this thread is doing now: read by every record's filter.
_bound: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("methodical_log_context", default={})

request_log = logging.getLogger("methodical.request")
job_log = logging.getLogger("methodical.job")

# The record's own attributes that a line keeps, renamed; the rest of LogRecord's attributes are left out.
_RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}


class BoundContext(logging.Filter):
    """Adds the bound request or job ids (and the process's name) to each record that passes."""

    def __init__(self, process: str):
        super().__init__()
        self.process = process

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _bound.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        record.process_name = self.process
        return True


def formatter() -> logging.Formatter:
    """Return the formatter every handler of the platform writes with: JSON (LOG_FORMAT=text: a plain line)."""
    if os.environ.get("LOG_FORMAT", "json").strip().lower() == "text":
        return logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s")
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(process_name)s",
        rename_fields=_RENAMED, datefmt="%Y-%m-%dT%H:%M:%S%z", json_ensure_ascii=False,
    )


def dict_config(process: str, level: str | None = None) -> dict[str, Any]:
    """Return the logging configuration (logging.config.dictConfig's form) of a process: everything to stderr,
    through the JSON formatter; gunicorn's loggers too (deploy/gunicorn.conf.py passes this as logconfig_dict)."""
    level = level or os.environ.get("LOG_LEVEL", "INFO")
    handler = {"class": "logging.StreamHandler", "formatter": "platform", "filters": ["bound"],
               "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"platform": {"()": "services.logs.formatter"}},
        "filters": {"bound": {"()": "services.logs.BoundContext", "process": process}},
        "handlers": {"stderr": handler},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            # gunicorn writes its access lines whenever a logging configuration is given, whatever accesslog
            # says: the platform's own request line (methodical.request) says more, so they are off unless
            # ACCESS_LOG asks for them (deploy/gunicorn.conf.py).
            "gunicorn.access": {"level": level if os.environ.get("ACCESS_LOG") else "WARNING",
                                "handlers": ["stderr"], "propagate": False},
            # fontTools says each table it prunes while a circular's font is subset, at INFO.
            "fontTools": {"level": "WARNING"},
        },
    }


def configure(process: str, level: str | None = None) -> None:
    """Send every record of this process to stderr as JSON lines (as logging.basicConfig does: unless the process
    already has a handler, e.g. a test runner's)."""
    import logging.config

    if logging.getLogger().handlers:
        return
    logging.config.dictConfig(dict_config(process, level))


def current() -> Mapping[str, Any]:
    """Return the ids bound to the work this thread is doing (request_id, job_id), if any."""
    return _bound.get()


def current_request_id() -> str | None:
    """Return the id of the request this thread's work belongs to (a job's: the request that caused it), if any."""
    return _bound.get().get("request_id")


def bind(**values: Any) -> contextvars.Token[Mapping[str, Any]]:
    """Add ids to every record this thread logs from now on, until `unbind` with the returned token."""
    return _bound.set({**_bound.get(), **{k: v for k, v in values.items() if v is not None}})


def unbind(token: contextvars.Token[Mapping[str, Any]]) -> None:
    """Go back to the ids bound before `bind` returned the token."""
    try:
        _bound.reset(token)
    except ValueError:  # bound in another context (a thread that has moved on): nothing of it is bound here
        pass


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Bind ids to the records logged within the block."""
    token = bind(**values)
    try:
        yield
    finally:
        unbind(token)


def log_request(*, method: str, route: str, path: str, status: int, started: float, request_id: str,
                person_id: str | None = None, tenant_id: str | None = None) -> None:
    """Write the one line of a request: no header, query string or body (services/web/access_log.py redacts the
    path's link secrets before it gets here)."""
    request_log.info("request", extra={
        "event": "request", "method": method, "route": route, "path": path, "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2), "request_id": request_id,
        "person_id": person_id, "tenant_id": tenant_id,
    })


def log_job(*, job_id: str, function: str, outcome: str, started: float, retries_left: int | None = None,
            request_id: str | None = None) -> None:
    """Write the one line of a job, with the id of the request that caused it."""
    job_log.info("job", extra={
        "event": "job", "job_id": job_id, "function": function, "outcome": outcome, "retries_left": retries_left,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2), "request_id": request_id,
    })
