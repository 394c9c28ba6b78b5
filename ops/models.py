from django.db import models


class Heartbeat(models.Model):
    """One row per live process (or periodic job), rewritten every few seconds.

    `at` is written with the database's clock (ops/heartbeats.py), so ages read back on the
    same clock are right across machines whose clocks disagree.
    """

    name = models.CharField(primary_key=True, max_length=200)
    kind = models.CharField(max_length=16)  # "worker" | "beat" | "sweep" | "web"
    at = models.DateTimeField()
    detail = models.JSONField(default=dict)

    def __str__(self):
        return f"{self.name} at {self.at:%H:%M:%S}"
