from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('dispatch', '0008_read_audit'),
    ]

    # The journal moved to the core app (issue 15): its table stays `dispatch_event`, only
    # Django's idea of which app owns it changes (core/migrations/0001).
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='Event')],
            database_operations=[],
        ),
    ]
