"""The live feeds: /ws/events/?since=ID for operators and supervisors; the base class here is
shared with the unit feed /ws/unit/ (dispatch/unit_consumer.py), which relays a filtered part
of the same journal.

The consumer only authenticates, joins the group, replays the backlog and relays
(docs/architecture.md). The channel layer is a doorbell: each message carries the event and the id of
the event committed before it (`previous_id`). If that is the last id this socket sent,
the event goes straight out; otherwise something was missed (a dropped group message, a
publish that never happened) and the gap is read from the journal, in order. Every
HEARTBEAT_S the consumer re-joins the group (membership expires) and reads the journal
once, which also delivers the last event of a burst whose doorbell was lost.

When the channel layer (Redis) is down the feed keeps working from PostgreSQL alone: the
socket is accepted anyway, the client is told `{"type": "status", "degraded": true}`,
and the journal is read every DEGRADED_POLL_S until the group can be joined again
(`degraded: false`). Reading from the layer never ends the socket either.

`last_id` is the last journal id this socket has *examined*: the operators' feed sends
every row, so it is also the last id sent; a filtered feed (the unit's) skips rows that
are not its business but still moves past them, so the doorbell's `previous_id` check
works on the whole journal for both.
"""

import asyncio
import logging
import random
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Max

from accounts.access import is_operator
from accounts.signals import revocation_group
from core import sockets
from core.journal import FEED_GROUP, event_message
from core.models import Event

from .ws_auth import credential_is_live

log = logging.getLogger(__name__)

HEARTBEAT_S = 15.0
DEGRADED_POLL_S = 1.0
LAYER_TIMEOUT_S = 2.0
TRY_AGAIN_LATER = 1013
REVOKED = 4401  # the token or session this socket signed in with is no longer valid
REPLAY_BATCH = 500


@database_sync_to_async
def _events_after(last_id, limit):
    return [event_message(e) for e in Event.objects.filter(id__gt=last_id).order_by("id")[:limit]]


# Reads of the journal in flight in this process, by (event loop, after id, limit).
_reads_in_flight = {}


async def _events_after_shared(last_id, limit):
    """_events_after, one query for every socket of the process that asks the same.

    A doorbell that arrives out of order (events committed by two processes, published by
    each) sends every socket of the process to the journal at once, all for the same rows:
    at 500 sockets that was 250 queries queued on a pool of 4 connections, and the slowest
    socket got its event hundreds of milliseconds late (bench/ws_latency.py). Now the first
    socket's query is awaited by the others; the rows are only read, never changed."""
    key = (asyncio.get_running_loop(), last_id, limit)
    future = _reads_in_flight.get(key)
    if future is None:
        future = asyncio.ensure_future(_events_after(last_id, limit))
        _reads_in_flight[key] = future

        def done(f):
            _reads_in_flight.pop(key, None)
            if not f.cancelled():
                f.exception()  # retrieved here too, in case every socket waiting went away

        future.add_done_callback(done)
    # shield: one socket closing must not cancel the read the others wait for
    return await asyncio.shield(future)


@database_sync_to_async
def _latest_id():
    return Event.objects.aggregate(m=Max("id"))["m"] or 0


def _first_beat():
    """The share of its interval after which a socket's first heartbeat or re-authorisation
    comes. A console room (or every console after a restart) connects within seconds; with
    equal intervals their hundreds of beats and token checks would keep arriving in the same
    few seconds, on top of the events they are there to receive (bench/ws_latency.py, 500
    sockets). Spread: at most one interval, never later than before."""
    return random.uniform(0.5, 1.0)


_newest = {"at": 0.0, "id": 0, "lock": None}


async def _newest_id_shared():
    """The journal's newest id, read at most once per DEGRADED_POLL_S / 2 per process."""
    if _newest["lock"] is None:
        _newest["lock"] = asyncio.Lock()
    async with _newest["lock"]:
        if time.monotonic() - _newest["at"] >= DEGRADED_POLL_S / 2:
            _newest["id"] = await _latest_id()
            _newest["at"] = time.monotonic()
        return _newest["id"]


class JournalFeedConsumer(AsyncJsonWebsocketConsumer):
    """Authenticate, join the doorbell group, replay from ?since, relay; subclasses say who
    may connect (`allowed`, `still_allowed`), which rows concern them (`concerns`) and how
    the journal is read for them (`read_journal`)."""

    # Class defaults: the channel-layer reader may run before connect() sets them.
    degraded = False
    heartbeat = None
    reauth = None
    closed = False  # set by close()/disconnect(): nothing is sent or started after it
    heartbeat_s = HEARTBEAT_S

    def feed_groups(self):
        """The doorbell groups this socket listens to."""
        return [FEED_GROUP]

    def allowed(self, user):
        """May this user open the feed? (sync, runs in a thread; may note what it read)"""
        raise NotImplementedError

    def still_allowed(self, scope):
        """Re-authorisation of an open socket (sync, runs in a thread)."""
        raise NotImplementedError

    def concerns(self, event):
        """Does this doorbell event go to the client? True, False, or None: only the journal
        can tell (then the rows after last_id are read with read_journal)."""
        return True

    async def read_journal(self, last_id):
        """(messages to send, the last id examined, whether more rows may follow)."""
        rows = await _events_after_shared(last_id, REPLAY_BATCH)
        return rows, (rows[-1]["id"] if rows else last_id), len(rows) == REPLAY_BATCH

    async def connect(self):
        self.last_id = 0
        self.lock = asyncio.Lock()
        try:
            if self.scope.get("db_unavailable"):
                raise DatabaseError("could not authenticate")
            user = self.scope.get("user")
            if self.scope.get("auth_error") or not await database_sync_to_async(self.allowed)(user):
                await self.close(code=4403)
                return
            since = self._since()
            if since is None:
                await self.close(code=4400)
                return
            latest = await _latest_id()
        except DatabaseError as exc:
            # PostgreSQL restarting: 1013 "try again later"; the client resumes from its id.
            log.warning("websocket refused, database unavailable: %s", exc)
            await self.accept()
            await self.close(code=TRY_AGAIN_LATER)
            return
        # Without ?since the client starts at the live edge; a since beyond the journal
        # (a client from another database) is treated the same way.
        self.last_id = latest if since == -1 or since > latest else since
        joined = await self._join()
        if joined:
            await self._layer_call("group_add", revocation_group(user.pk))
        await self.accept()
        sockets.opened(self)  # /metrics: websocket clients
        if not joined:
            await self._set_degraded(True)
        if latest - self.last_id > settings.FEED_MAX_REPLAY:
            await self.send_json({"type": "resync", "id": None, "last_id": latest,
                                  "detail": "Too far behind: refetch state, then follow from last_id."})
            self.last_id = latest
        try:
            await self.catch_up()
        except DatabaseError as exc:
            log.warning("feed replay failed, database unavailable: %s", exc)
            await self.close(code=TRY_AGAIN_LATER)
            return
        self.heartbeat = asyncio.create_task(self._heartbeat())
        self.reauth = asyncio.create_task(self._reauth_loop())

    async def close(self, code=None, reason=None):
        self.closed = True
        await super().close(code=code, reason=reason)

    def _since(self):
        from urllib.parse import parse_qs

        values = parse_qs(self.scope.get("query_string", b"").decode()).get("since")
        if not values:
            return -1
        try:
            since = int(values[0])
        except ValueError:
            return None
        return since if since >= 0 else None

    async def disconnect(self, code):
        self.closed = True
        sockets.closed(self)
        for task in (self.heartbeat, self.reauth):
            if task and task is not asyncio.current_task():
                task.cancel()
        for group in self.feed_groups():
            await self._layer_call("group_discard", group)
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            await self._layer_call("group_discard", revocation_group(user.pk))

    async def _layer_call(self, method, group):
        try:
            await asyncio.wait_for(getattr(self.channel_layer, method)(group, self.channel_name), LAYER_TIMEOUT_S)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the layer is down: membership expires by itself
            log.info("%s %s failed: %s", method, group, exc)

    async def auth_revoked(self, message):
        """The doorbell of accounts/signals.py: some credential of this account was revoked."""
        await self._recheck()

    async def _recheck(self):
        if self.closed:
            return
        try:
            live = await database_sync_to_async(self.still_allowed)(self.scope)
        except DatabaseError as exc:  # cannot tell now: the next check decides
            log.info("websocket re-authorisation postponed: %s", exc)
            return
        if not live and not self.closed:
            log.info("websocket closed: credential revoked (user %s)", getattr(self.scope.get("user"), "pk", None))
            await self.close(code=REVOKED)

    async def _reauth_loop(self):
        delay = settings.WS_REAUTH_INTERVAL_S * _first_beat()
        while not self.closed:
            await asyncio.sleep(delay)
            await self._recheck()
            delay = settings.WS_REAUTH_INTERVAL_S

    async def receive_json(self, content, **kwargs):
        # The only message a client may send: a ping, answered with the last id this socket
        # examined (sent, on the operators' feed; a client can compare it with its own, or
        # resume from it). Anything else is ignored.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "id": None, "last_id": self.last_id})

    async def journal_events(self, message):
        """A doorbell with one or more committed events, in commit order."""
        if self.closed:
            return
        gap = False
        async with self.lock:
            for item in message["events"]:
                event = item["event"]
                if event["id"] <= self.last_id:
                    continue  # already sent (replay overlap or the sweep's doorbell)
                if item.get("previous_id") != self.last_id:
                    gap = True  # something before this one never rang: read the journal
                    break
                verdict = self.concerns(event)
                if verdict is None:
                    gap = True  # only the journal can tell: read it from here
                    break
                if verdict:
                    await self.send_json(event)
                self.last_id = event["id"]
        if gap:
            try:
                await self.catch_up()
            except DatabaseError as exc:
                # The journal is unreadable right now: let the client resume from its id.
                log.warning("feed catch-up failed, database unavailable: %s", exc)
                await self.close(code=TRY_AGAIN_LATER)

    async def catch_up(self):
        async with self.lock:
            while True:
                rows, examined, more = await self.read_journal(self.last_id)
                for row in rows:
                    await self.send_json(row)
                    self.last_id = row["id"]
                self.last_id = max(self.last_id, examined)
                if not more:
                    return

    async def _join(self):
        """Join (or re-join) the doorbell groups; False when the channel layer is down."""
        try:
            for group in self.feed_groups():
                await asyncio.wait_for(self.channel_layer.group_add(group, self.channel_name), LAYER_TIMEOUT_S)
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("channel layer unavailable (%s): following the journal instead", exc)
            return False

    async def _set_degraded(self, degraded):
        if degraded == self.degraded or self.closed:
            return
        self.degraded = degraded
        try:
            await self.send_json({
                "type": "status", "id": None, "degraded": degraded,
                "detail": "Live channel down: following the journal every second." if degraded else "Live channel back.",
            })
        except Exception as exc:  # the socket went meanwhile; disconnect() cleans up
            log.info("status not sent: %s", exc)
            return
        if self.closed:
            return
        if degraded and self.heartbeat is not None and self.heartbeat is not asyncio.current_task():
            # wake the heartbeat loop up now, so polling starts without waiting HEARTBEAT_S
            self.heartbeat.cancel()
            self.heartbeat = asyncio.create_task(self._heartbeat())

    # Channels assigns `channel_receive` (the channel layer's receive for this socket) in
    # __call__; wrapping it here keeps a Redis outage from ending the consumer: the read
    # waits and retries while the feed runs from the journal.
    @property
    def channel_receive(self):
        return self._channel_receive

    @channel_receive.setter
    def channel_receive(self, receive):
        async def resilient():
            while True:
                try:
                    return await receive()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if not self.degraded and self.heartbeat is not None:
                        log.warning("channel layer read failed (%s): following the journal instead", exc)
                        await self._set_degraded(True)
                    await asyncio.sleep(DEGRADED_POLL_S)

        self._channel_receive = resilient

    async def _heartbeat(self):
        failures = 0
        first = _first_beat()
        while not self.closed:
            await asyncio.sleep((DEGRADED_POLL_S if self.degraded else self.heartbeat_s) * first)
            first = 1.0
            if self.closed:
                return
            try:
                joined = await self._join()
                if joined:  # memberships expire; the revocation doorbell's too
                    await self._layer_call("group_add", revocation_group(self.scope["user"].pk))
                if joined == self.degraded:
                    await self._set_degraded(not joined)
                # One shared read of the newest id per process (at most every half second)
                # says whether there is anything to read at all: degraded, every socket polls
                # each second; live, hundreds of sockets beat every HEARTBEAT_S.
                if await _newest_id_shared() > self.last_id:
                    await self.catch_up()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
                    # The client went while the beat was sending to it (the server's
                    # ClientDisconnected is an OSError): disconnect() follows, nothing to retry.
                    log.info("heartbeat: socket gone (%s)", type(exc).__name__)
                    return
                # a database blip: try again next beat
                failures += 1
                log.warning("heartbeat failed (%d in a row)", failures, exc_info=True)
                if failures >= 4:
                    # Let the client reconnect and resume from its last id.
                    await self.close(code=TRY_AGAIN_LATER)
                    return


class EventConsumer(JournalFeedConsumer):
    """/ws/events/: the whole journal, for operators and supervisors."""

    def allowed(self, user):
        return is_operator(user)

    def still_allowed(self, scope):
        return credential_is_live(scope) and is_operator(scope["user"])
