"""The delivery worker's heartbeats: as alive in Redis as rq keeps a worker, in fewer round trips (ADR 006)."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from redis import Redis
from redis.connection import ConnectionPool
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from services.jobs import DeliveryWorker


class Counting:
    """Mixed into the pool's connection class (TCP or Unix socket): counts what is sent, one send a round trip."""

    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        Counting.sent += 1
        super().send_packed_command(command, check_health)  # type: ignore[misc]


@pytest.fixture
def redis(settings: Any) -> Any:
    """A connection whose round trips are counted (the worker's)."""
    pool = ConnectionPool.from_url(settings.redis_url)
    pool.connection_class = type("CountingConnection", (Counting, pool.connection_class), {})
    connection = Redis(connection_pool=pool)
    yield connection
    connection.close()
    pool.disconnect()


@pytest.fixture
def looking(settings: Any) -> Any:
    """A connection of the test's own, to look at what the worker left in Redis."""
    connection = Redis.from_url(settings.redis_url)
    yield connection
    connection.close()


def round_trips_per_job(redis: Redis, worker_class: type[SimpleWorker], jobs: int) -> float:
    queue = Queue(f"worker-test-{secrets.token_hex(4)}", connection=redis, serializer=JSONSerializer)
    queue.enqueue_many([Queue.prepare_data("builtins.len", ([n],), result_ttl=60) for n in range(jobs)])
    worker = worker_class([queue], connection=redis, serializer=JSONSerializer)
    before = Counting.sent
    worker.work(burst=True)
    sent = Counting.sent - before
    finished = [queue.fetch_job(job_id) for job_id in queue.finished_job_registry.get_job_ids()]
    assert len(finished) == jobs and {job.return_value() for job in finished} == {1}
    return sent / jobs


def test_jobs_run_as_under_rq_s_own_worker_in_at_most_two_thirds_of_its_round_trips(redis):
    theirs = round_trips_per_job(redis, SimpleWorker, 40)
    ours = round_trips_per_job(redis, DeliveryWorker, 40)
    assert ours <= theirs * 2 / 3, (ours, theirs)


def test_a_heartbeat_is_sent_unless_one_as_long_was_sent_within_the_second(redis, looking):
    queue = Queue(f"worker-test-{secrets.token_hex(4)}", connection=redis, serializer=JSONSerializer)
    worker = DeliveryWorker([queue], connection=redis, serializer=JSONSerializer)
    worker.BEAT_EVERY = 0.3
    worker.register_birth()
    try:
        with redis.pipeline() as pipeline:  # what rq does as a job starts: a TTL for the job's time limit
            worker.heartbeat(90, pipeline=pipeline)
            pipeline.execute()
        assert looking.ttl(worker.key) <= 90

        before = Counting.sent
        worker.heartbeat()  # longer than the last one: sent, in one round trip
        assert Counting.sent - before == 1 and looking.ttl(worker.key) > worker.worker_ttl

        looking.expire(worker.key, 30)  # as if time had passed; a heartbeat within the second is not sent
        worker.heartbeat()
        worker.set_state(worker.get_state())
        assert Counting.sent - before == 1 and looking.ttl(worker.key) <= 30

        time.sleep(0.35)
        worker.heartbeat()
        assert Counting.sent - before == 2 and looking.ttl(worker.key) > worker.worker_ttl
        assert looking.hget(worker.key, "last_heartbeat")
    finally:
        worker.register_death()
