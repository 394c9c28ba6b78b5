import os

from celery import Celery
from celery.signals import task_prerun
from django.db import connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _survive_broker_loss_with_unacked_tasks():
    """Workaround: a worker holding an unacknowledged task died when Redis went away.

    Celery 5.7's `Consumer.on_connection_error_after_connected` (celery/worker/consumer/
    consumer.py:476-487, added by celery/celery#10242, the fix of celery/celery#9705)
    first calls `connection.collect()` and then `connection.close()`. With Redis down,
    kombu's Redis `Channel.close` raises a ConnectionError inside `collect()` (its final
    `_brpop_read`, kombu/transport/redis.py:1894) before the channel is marked closed, and
    `collect()` then detaches the transport (`transport.client = None`,
    kombu/connection.py:429). The second close reaches `restore_unacked()` for the task in
    flight, which builds a Redis pool from `self.connection.client.hostname`
    (kombu/transport/redis.py:1959): AttributeError on None, not a connection error, so
    `ignore_errors` lets it through and the worker exits with "Unrecoverable error:
    AttributeError("'NoneType' object has no attribute 'hostname'")". The same None is
    hit again when the task finishes and acks on the dead channel. An old kombu bug class
    (celery/kombu#582, #970), made reachable on every outage by celery#10242.

    Here a channel whose transport was detached raises a Redis ConnectionError instead:
    kombu and Celery treat that as the broker being gone (close is skipped, the late ack
    is logged as "Couldn't ack"), and the consumer goes on to reconnect. The unacked
    message is lost with Redis; the beat sweep re-runs dispatch for every call whose
    `dispatch_requested_at` is still set. Proven by tests/realtime/test_broker_outage.py;
    drop this when that test passes without it on a newer celery/kombu.
    """
    import redis.exceptions
    from kombu.transport import redis as kombu_redis

    original = kombu_redis.Channel._connparams
    if getattr(original, "detached_guard", False):
        return

    def _connparams(self, asynchronous=False):
        if self.connection.client is None:
            raise redis.exceptions.ConnectionError("broker connection closed (channel of a collected connection)")
        return original(self, asynchronous=asynchronous)

    _connparams.detached_guard = True
    kombu_redis.Channel._connparams = _connparams


_survive_broker_loss_with_unacked_tasks()


@task_prerun.connect
def _drop_unusable_connections(**kwargs):
    """Workers keep their database connection between tasks (CELERY_DB_REUSE_MAX in
    settings); before each task make sure it still works. A backend terminated or a
    PostgreSQL restart since the last task would otherwise fail this task's first query;
    checked here (one `SELECT 1`, ~0.1 ms) it is replaced and the task runs normally."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.in_atomic_block and (conn.errors_occurred or not conn.is_usable()):
            conn.close()

app = Celery("dispatch112")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
