"""Processes that start together each make the event store's tables, types and append function (eventsourcing's
CREATE_TABLE): a projector and a host's workers, a writer and a projector taking over. None of them may fail for
another's doing the same at the same moment ("tuple concurrently updated", a duplicate row type)."""

from __future__ import annotations

import threading

from support import fresh_database

STARTS = 8  # at once, on a fresh database and again on the database they made


def test_applications_starting_together_on_a_fresh_database_all_start(servers: dict[str, str]) -> None:
    from services.applications import Platform
    from services.config import Settings

    with fresh_database(servers["DATABASE_URL"], "starts") as url:
        settings = Settings.from_env({"DATABASE_URL": url})
        for moment in ("fresh", "made"):
            failed: list[BaseException] = []
            gate = threading.Barrier(STARTS)

            def start() -> None:
                gate.wait()
                try:
                    Platform(env=settings.eventsourcing_env()).close()
                except BaseException as error:  # noqa: BLE001 - each failure is what the test counts
                    failed.append(error)

            threads = [threading.Thread(target=start) for _ in range(STARTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert not failed, f"{len(failed)} of {STARTS} starts on the {moment} database failed: {failed[0]!r}"
            assert not any(thread.is_alive() for thread in threads)
