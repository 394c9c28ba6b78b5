"""Partner systems' writes: alarm sources and their alarms, webhook subscriptions."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.db.models import Max

from accounts.access import ALARM_SOURCE
from accounts.tokens import issue_token, revoke_tokens
from calls.models import Channel, IncidentType, LocationSource
from calls.services import call_create
from core.models import Event, JournalReader

from .models import Alarm, AlarmSource, Subscription, reader_name

# Why an unconfirmed alarm waits (Call.hold_reason; an operator's Release dispatches it).
HOLD_ALARM = "alarm_unconfirmed"


def _account_username(code):
    return f"alarm-source-{code}"


@transaction.atomic
def alarm_source_create(*, code, name, kinds):
    """A new source with its machine account; returns (source, token text, shown once)."""
    User = get_user_model()
    # A source deleted earlier left its account inactive (calls keep it as their author):
    # registering the code again brings that account back.
    user, _ = User.objects.get_or_create(username=_account_username(code))
    user.set_unusable_password()
    user.is_active, user.is_staff = True, False
    user.save()
    user.groups.set([Group.objects.get_or_create(name=ALARM_SOURCE)[0]])
    source = AlarmSource.objects.create(code=code, name=name, kinds=kinds, account=user)
    token = issue_token(user, replace=True)
    return source, token


@transaction.atomic
def alarm_source_update(*, source_id, changes):
    source = AlarmSource.objects.select_for_update().get(pk=source_id)
    for field in ("name", "kinds"):
        if field in changes:
            setattr(source, field, changes[field])
    source.save()
    return source


@transaction.atomic
def alarm_source_rotate_token(*, source_id):
    source = AlarmSource.objects.select_related("account").get(pk=source_id)
    return source, issue_token(source.account, replace=True)


@transaction.atomic
def alarm_source_delete(*, source_id):
    """The source's token stops working at once; its alarms and calls stay."""
    source = AlarmSource.objects.select_related("account").select_for_update(of=("self",)).get(pk=source_id)
    account = source.account
    source.delete()
    revoke_tokens(account)
    account.is_active = False
    account.save(update_fields=["is_active"])


def _kind_rule(source, kind):
    rule = source.kinds.get(kind)
    incident_type = IncidentType.objects.filter(code=rule["incident_type"], active=True).first() if rule else None
    return rule, incident_type


def alarm_receive(*, source, external_id, kind, point, occurred_at, description="", media_url=""):
    """The call an alarm raised: (call, created). Called again with the same (source,
    external_id) it returns the first call and writes nothing.

    The ledger row is inserted first, in the call's transaction: a concurrent repeat blocks
    on the unique index until this one commits, then fails on it and reads the call this
    one made (no check-then-insert race). `kind` must be one the source maps (the view
    checks; an unmapped kind here is a ValueError)."""
    seen = Alarm.objects.filter(source_code=source.code, external_id=external_id).select_related("call").first()
    if seen is not None:
        return seen.call, False
    rule, incident_type = _kind_rule(source, kind)
    if incident_type is None:
        raise ValueError(f"kind {kind!r} is not mapped to an active incident type by source {source.code}")
    try:
        with transaction.atomic():
            alarm = Alarm.objects.create(source_code=source.code, external_id=external_id, kind=kind)
            call = call_create(
                actor=source.account,
                incident_type=incident_type,
                priority=rule.get("priority"),
                channel=Channel.ALARM,
                description=description,
                location={"point": point, "accuracy_m": None, "source": LocationSource.ALARM},
                hold_reason=HOLD_ALARM if rule.get("hold") else "",
                alarm={"source": source.code, "source_name": source.name, "kind": kind, "external_id": external_id,
                       "occurred_at": occurred_at.isoformat() if occurred_at else None,
                       "media_url": media_url or None},
            )
            Alarm.objects.filter(pk=alarm.pk).update(call=call)
    except IntegrityError:
        seen = Alarm.objects.filter(source_code=source.code, external_id=external_id).select_related("call").first()
        if seen is None:
            raise
        return seen.call, False
    return call, True


# --- subscriptions -----------------------------------------------------------------------------


@transaction.atomic
def subscription_create(*, url, events, format, secret, actor=None):
    """A new subscription, starting at the live edge: its cursor is the newest journal row
    committed now. (Journal ids become visible in commit order, core/journal.py, so every
    event committed after this reads as newer.)"""
    subscription = Subscription.objects.create(url=url, events=events, format=format, secret=secret,
                                               created_by=actor if getattr(actor, "is_authenticated", False) else None)
    edge = Event.objects.aggregate(m=Max("id"))["m"] or 0
    JournalReader.objects.update_or_create(pk=reader_name(subscription.pk),
                                           defaults={"last_id": edge, "failures": 0, "last_error": "",
                                                     "next_attempt_at": None, "paused": False})
    return subscription


@transaction.atomic
def subscription_update(*, subscription_id, changes):
    """Change the url, events, format or secret, or pause/resume ({"paused": bool}).

    Resuming clears the back-off, so a partner that is back is tried at once."""
    subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
    fields = [f for f in ("url", "events", "format", "secret") if f in changes]
    for field in fields:
        setattr(subscription, field, changes[field])
    if fields:
        subscription.save(update_fields=fields)
    if "paused" in changes:
        update = {"paused": bool(changes["paused"])}
        if not changes["paused"]:
            update["next_attempt_at"] = None
        JournalReader.objects.filter(pk=reader_name(subscription.pk)).update(**update)
    return subscription


@transaction.atomic
def subscription_delete(*, subscription_id):
    deleted, _ = Subscription.objects.filter(pk=subscription_id).delete()
    JournalReader.objects.filter(pk=reader_name(subscription_id)).delete()
    return bool(deleted)


def subscription_state(subscription):
    """The delivery state of one subscription, from its journal reader's row."""
    row = JournalReader.objects.filter(pk=reader_name(subscription.pk)).first()
    if row is None:
        return {"last_delivered_id": None, "pending": 0, "paused": False, "failures": 0, "last_error": None,
                "last_success_at": None, "next_attempt_at": None}
    pending = Event.objects.filter(id__gt=row.last_id)
    if "*" not in subscription.events:
        pending = pending.filter(type__in=subscription.events)
    return {
        "last_delivered_id": row.last_id,
        "pending": pending.count(),
        "paused": row.paused,
        "failures": row.failures,
        "last_error": row.last_error or None,
        "last_success_at": row.last_success_at,
        "next_attempt_at": row.next_attempt_at,
    }
