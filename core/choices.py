"""Vocabulary shared by calls and units: the emergency services a plan asks for and a unit
belongs to."""

from django.db import models


class Service(models.TextChoices):
    POLICE = "police", "Police"
    MEDICAL = "medical", "Medical"
    FIRE = "fire", "Fire"
    UTILITY = "utility", "Utility"
