"""The doorbell publisher's queue is bounded: a hung Redis cannot grow a process without end."""

from core import journal as events


def test_the_publish_queue_keeps_the_newest_doorbells_when_redis_hangs(monkeypatch):
    publisher = events._Publisher()
    monkeypatch.setattr(events._Publisher, "MAX_QUEUED", 5)
    monkeypatch.setattr(publisher, "_run", lambda: None)  # nothing drains it: Redis hangs
    publisher.queue = None
    publisher.pid = None
    for i in range(12):
        publisher.submit([{"previous_id": i - 1, "event": {"id": i}}])
    assert publisher.dropped == 7
    kept = [publisher.queue.get_nowait()[0]["event"]["id"] for _ in range(publisher.queue.qsize())]
    assert kept == [7, 8, 9, 10, 11]  # the newest doorbell survives; consumers read the rest from the journal
