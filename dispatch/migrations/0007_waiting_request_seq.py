# A counter of waiting-pass requests (dispatch/engine.py): a request that finds another
# pass running bumps it, and that pass goes round again before it lets go. A sequence:
# non-transactional and lock-free, so bumping it never waits on anything.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("dispatch", "0006_event_summary_text"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE IF NOT EXISTS dispatch_waiting_request_seq",
            "DROP SEQUENCE IF EXISTS dispatch_waiting_request_seq",
        ),
    ]
