"""gunicorn settings for the web process: the app factory runs in each worker, after fork."""

import os
import tempfile

wsgi_app = "services.api:create_app()"
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
# Never preload: eventsourcing's connection pool must be opened in the worker, not the master.
preload_app = False
timeout = 30
# SIGTERM: stop accepting, let the requests in progress finish (their commands are appended or not at all), then
# exit. A request is short (the bounded X-Min-Position wait is the longest, 5 s): 20 s covers it with room.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "20"))
# Each request writes one JSON line itself (services/logs.py, with its route and request id); gunicorn's own access
# log is off unless ACCESS_LOG names a file or "-".
accesslog = os.environ.get("ACCESS_LOG", "") or None
# Tokens travel in the Authorization header, which this format does not log.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss rid=%({x-request-id}o)s'
# Invitation and reset links carry a secret in their path: logged as /{lang}/invitations/[redacted].
logger_class = "services.web.access_log.RedactingLogger"
# One JSON line a record, the master's and the workers' (services/logs.py); LOG_FORMAT=text for a plain line.
from services import logs as _logs  # noqa: E402 - a leading underscore: gunicorn reads this module's names

logconfig_dict = _logs.dict_config("web")

# Metrics (ADR 024): every worker counts into files under PROMETHEUS_MULTIPROC_DIR, and the master serves their sum
# with the scrape-time gauges on METRICS_PORT. The directory must be empty when the master starts: one given by the
# environment is made empty by whoever provides it (methodical run, systemd's RuntimeDirectory, a tmpfs in compose);
# without one, a fresh one is made when the master starts, before it imports prometheus_client or forks a worker.
_made_metrics_dir = []


def on_starting(server):  # noqa: ANN001, ANN201 - gunicorn's hook
    """Give the workers a metrics directory when the environment names none."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="methodical-metrics-")
        _made_metrics_dir.append(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def on_exit(server):  # noqa: ANN001, ANN201 - gunicorn's hook
    """Remove the metrics directory made at start."""
    import shutil

    for path in _made_metrics_dir:
        shutil.rmtree(path, ignore_errors=True)


def when_ready(server):  # noqa: ANN001, ANN201 - gunicorn's hook
    """Serve /metrics on its own port from the master (METRICS_PORT=0: not served)."""
    from services.config import Settings

    settings = Settings.from_env()
    if settings.metrics_port:
        from services import metrics

        metrics.serve(settings, settings.metrics_host, settings.metrics_port)
        server.log.info("metrics at http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)


def post_worker_init(worker):  # noqa: ANN001, ANN201 - gunicorn's hook
    """The application is loaded: what the worker made at start leaves the cyclic collector's full passes."""
    from services import heap

    heap.settle()


def child_exit(server, worker):  # noqa: ANN001, ANN201 - gunicorn's hook
    """A worker that exited keeps its counts, and its live gauges leave the sum (prometheus_client's protocol)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
