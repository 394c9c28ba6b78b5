# The retention's mark (dispatch/retention.py) and the index of the calls it has still to
# look at. A nullable column without a default is a catalogue change only; the index is
# built CONCURRENTLY (hence a non-atomic migration) so that a deploy on a history of
# 1,000,000 calls does not block call intake while it is built. The AML index serves
# the retention's pass over messages that never found a call.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("calls", "0005_call_dispatched_idx"),
    ]

    operations = [
        migrations.AddField(
            model_name="call",
            name="personal_data_erased_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        AddIndexConcurrently(
            model_name="call",
            index=models.Index(
                condition=models.Q(("personal_data_erased_at__isnull", True)),
                fields=["closed_at", "id"],
                name="call_erasure_due_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="amlmessage",
            index=models.Index(
                condition=models.Q(models.Q(("raw", ""), _negated=True), models.Q(("msisdn", ""), _negated=True),
                                   _connector="OR"),
                fields=["received_at"],
                name="aml_not_erased_idx",
            ),
        ),
    ]
