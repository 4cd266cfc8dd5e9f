"""Projection rebuild: every read model rebuilt from ~1,000,000 events (quick: ~200,000) of a generated country,
against the raw baseline of reading and decoding the same events from the store in the same run.

Figures: the generator's ingest rate; the rebuild's rate beside the raw read-and-decode rate (target: at least
0.25 of it); the rebuild's time scaled to 1,000,000 events (target: at most 300 s).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

from benchmarks import country
from benchmarks.platform import Platform, log
from benchmarks.report import figure

NAME = "rebuild"
# Events per unit of scale (about 1.9 million at scale 1).
EVENTS_PER_SCALE = 1_900_000


def read_and_decode(app: Any) -> tuple[int, float]:
    """The baseline: read every notification and decode its event, in the rebuild's batch size."""
    from projections.bulk import notifications

    started = time.perf_counter()
    count = 0
    to_domain_event = app.mapper.to_domain_event
    for batch in notifications(app):
        for notification in batch:
            to_domain_event(notification)
        count += len(batch)
    return count, time.perf_counter() - started


def run(quick: bool) -> Iterator[dict[str, Any]]:
    # Quick: 200,000 events, where the rebuild's fixed costs (dropping and creating the tables, building the
    # indexes) no longer weigh a third of it as at 50,000 (0.9 of 3.2 s).
    target_events = 200_000 if quick else 1_000_000
    scale = target_events / EVENTS_PER_SCALE
    platform = Platform(prefix="rebuild")
    try:
        platform.start(web=False, projector=False, dispatcher=False, workers=0)
        url = platform.env["DATABASE_URL"]
        log(f"generating about {target_events} events (scale {scale:.3f})")
        # The read models are built below, timed.
        generated = country.generate(url, scale=scale, processes=2, migrate=False, build_read_models=False)
        yield figure(NAME, "generator ingest rate", generated["events_per_second"], "events/s",
                     events=generated["events"], seconds=generated["seconds"], processes=generated["processes"])

        from projections.base import make_engine
        from projections.bulk import rebuild_beside
        from projections.registry import READ_MODELS
        from services.config import Settings

        # The rebuild logs its phases (read and folded, loaded, indexed): shown with the benchmark's own lines.
        phases = logging.getLogger("projections.bulk")
        phases.setLevel(logging.INFO)
        phases.addHandler(logging.StreamHandler(sys.stderr))
        settings = Settings.from_env(platform.env)
        app = country._app(url)
        engine = make_engine(settings.sqlalchemy_url(), 2)
        try:
            # The baseline before and after the rebuild, so that both see the same (shared, noisy) machine.
            log("reading and decoding the log (baseline)")
            raw_events, before = read_and_decode(app)
            log("rebuilding every read model")
            started = time.perf_counter()
            report = rebuild_beside(app, engine, list(READ_MODELS.values()))
            seconds = time.perf_counter() - started
            replayed = {name: report.events for name in report.read_models}
            log("reading and decoding the log again (baseline)")
            _, after = read_and_decode(app)
        finally:
            app.close()
            engine.dispose()
        raw_seconds = (before + after) / 2
        events = max(replayed.values())
        rate, raw_rate = events / seconds, raw_events / raw_seconds
        yield figure(NAME, "rebuild rate (all read models)", rate, "events/s", baseline=raw_rate,
                     baseline_of="reading and decoding the same events (mean of a run before and after)",
                     target="ratio >= 0.25", met=rate / raw_rate >= 0.25, events=events, seconds=round(seconds, 2),
                     baseline_seconds=[round(before, 2), round(after, 2)], read_models=len(replayed))
        per_million = seconds * 1_000_000 / events
        yield figure(NAME, "rebuild time per 1,000,000 events", per_million, "s", target="<= 300 s",
                     met=per_million <= 300, events=events, measured_seconds=round(seconds, 2))
        # Built beside the live tables, then swapped in: the one transaction that holds the tracking rows (the live
        # projector waits) and the live tables' locks (their readers wait).
        yield figure(NAME, "rebuild swap (tracking rows and live tables held)", report.swap_seconds, "s",
                     target="<= 1 s", met=report.swap_seconds <= 1.0, build_seconds=round(report.build_seconds, 2),
                     caught_up=report.caught_up, lock_attempts=report.lock_attempts)
    finally:
        platform.stop()


if __name__ == "__main__":
    import argparse

    from benchmarks.report import emit

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    for record in run(parser.parse_args().quick):
        emit(record)
