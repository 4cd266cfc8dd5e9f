"""eventsourcing internals: what the batching projection runner (projections/runner.py) relies on.

The runner uses them directly: a projection may not import services, and projections/ is where they are used.
This module lists them and checks them against the installed eventsourcing; moving the accessors beside the runner
(for instance projections/internals.py) is a change of that folder's own.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from queue import Queue

from eventsourcing.persistence import ListenNotifySubscription
from eventsourcing.projection import BaseProjectionRunner

from services.internals import Use

CHECKED_ON = "9.5.6"
USES = (
    Use("BaseProjectionRunner._process_events_loop", "projections/runner.py (BatchingRunner)",
        "overridden to hand the projection several events in one transaction while a backlog waits; eventsourcing "
        "calls process_event once per event and has no batching hook in the runner."),
    Use("BaseProjectionRunner._thread_error", "projections/runner.py (BatchingRunner._process_events_loop)",
        "the overriding loop hands its error to the runner as eventsourcing's own loop does, so run_forever() "
        "and wait() raise it."),
    Use("ListenNotifySubscription._notifications, ._notifications_index", "projections/runner.py (_buffered)",
        "whether the next event is already read from the log decides when a batch closes; the subscription tells "
        "no one."),
    Use("ListenNotifySubscription._notifications_queue", "projections/runner.py (_buffered, _wait_buffered)",
        "the queue the LISTEN thread fills: a batch may wait on its own condition for more events, briefly."),
    Use("queue.Queue._qsize", "projections/runner.py (_wait_buffered)",
        "the predicate for Condition.wait_for under the queue's own lock (qsize() would take the lock again); the "
        "standard library's, listed here with the queue it waits on."),
)


def problems() -> list[str]:
    """Return what no longer holds of the uses above in the installed eventsourcing (empty when all do)."""
    found = []
    if version("eventsourcing") != CHECKED_ON:
        found.append(f"eventsourcing {version('eventsourcing')} is installed; the uses were checked on {CHECKED_ON}")
    loop = inspect.getattr_static(BaseProjectionRunner, "_process_events_loop", None)
    if not isinstance(loop, staticmethod):
        found.append("BaseProjectionRunner._process_events_loop is no longer a static method to override")
    elif list(inspect.signature(loop.__func__).parameters) != ["subscription", "projection", "is_stopping",
                                                                 "runner"]:
        found.append("BaseProjectionRunner._process_events_loop takes other arguments")
    if "self._thread_error" not in inspect.getsource(BaseProjectionRunner):
        found.append("BaseProjectionRunner no longer reports the loop's error through _thread_error")
    subscription_source = inspect.getsource(ListenNotifySubscription.__init__)
    for name in ("_notifications", "_notifications_index", "_notifications_queue"):
        if f"self.{name}" not in subscription_source:
            found.append(f"ListenNotifySubscription no longer keeps {name}")
    if "Queue(" not in subscription_source:
        found.append("ListenNotifySubscription's notifications are no longer a queue.Queue")
    if not callable(getattr(Queue(), "_qsize", None)) or not hasattr(Queue(), "not_empty"):
        found.append("queue.Queue no longer has _qsize and not_empty")
    return found
