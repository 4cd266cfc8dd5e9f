"""gunicorn settings for the web process: the app factory runs in each worker, after fork."""

import os

wsgi_app = "services.api:create_app()"
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
# Never preload: eventsourcing's connection pool must be opened in the worker, not the master.
preload_app = False
timeout = 30
graceful_timeout = 10
accesslog = os.environ.get("ACCESS_LOG", "-") or None
# Tokens travel in the Authorization header, which this format does not log.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss rid=%({x-request-id}o)s'
# Invitation and reset links carry a secret in their path: logged as /{lang}/invitations/[redacted].
logger_class = "services.web.access_log.RedactingLogger"


def post_worker_init(worker):  # noqa: ANN001, ANN201 - gunicorn's hook
    """The application is loaded: what the worker made at start leaves the cyclic collector's full passes."""
    from services import heap

    heap.settle()
