# Built concurrently: the calls table is written to while a live centre migrates.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("calls", "0004_history_indexes"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="call",
            index=models.Index(
                condition=models.Q(("dispatched_at__isnull", False)), fields=["dispatched_at"], name="call_dispatched_idx"
            ),
        ),
    ]
