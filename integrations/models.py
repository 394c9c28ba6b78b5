"""Partner systems: alarm sources that post alarms in, subscriptions that get events out."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class AlarmSource(models.Model):
    """A partner system that raises alarms (a camera network, panic buttons), with its own
    machine account (role `alarm_source`, a token that does not expire) and its mapping of
    alarm kinds to incident types:

        {"crash": {"incident_type": "traffic_accident_injury", "priority": 2, "hold": true}}

    `hold`: the call waits for an operator to confirm it (Release) before dispatch; a
    camera's guess is held, a school's panic button is dispatched at once."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    kinds = models.JSONField(default=dict)
    account = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="alarm_source")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class Alarm(models.Model):
    """Every alarm accepted, keyed by (source, external_id): the ledger that makes a repeated
    alarm answer with the call it raised the first time. The unique constraint decides
    between concurrent repeats (integrations/services.py alarm_receive)."""

    source_code = models.CharField(max_length=32)
    external_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=64)
    call = models.ForeignKey("calls.Call", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["source_code", "external_id"], name="alarm_source_external_id_unique"),
        ]

    def __str__(self):
        return f"{self.source_code}:{self.external_id}"


class SubscriptionFormat(models.TextChoices):
    EVENT = "event"  # the websocket message, core.journal.event_message
    EIDO = "eido"  # the NENA EIDO JSON of the call, for events about a call


class Subscription(models.Model):
    """A partner's webhook: every event of its types, one POST each, in journal order, at
    least once. Its cursor, back-off and pause are the journal reader `webhook:<id>`
    (core.models.JournalReader), which integrations/webhooks.py registers as a family."""

    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)  # event types, or ["*"]
    format = models.CharField(max_length=8, choices=SubscriptionFormat.choices, default=SubscriptionFormat.EVENT)
    secret = models.CharField(max_length=200)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=~Q(secret=""), name="subscription_secret_not_empty")]

    def __str__(self):
        return f"#{self.pk} {self.url}"

    @property
    def reader_name(self):
        return reader_name(self.pk)


READER_PREFIX = "webhook:"


def reader_name(subscription_id):
    return f"{READER_PREFIX}{subscription_id}"
