"""The journal, moved from dispatch (issue 15) without touching its table."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('calls', '0006_personal_data_erased_at'),
        ('dispatch', '0009_journal_to_core'),
        ('units', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=[
        migrations.CreateModel(
            name='Event',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('previous_id', models.BigIntegerField(blank=True, null=True)),
                ('type', models.CharField(max_length=32)),
                ('at', models.DateTimeField()),
                ('summary', models.TextField(blank=True, default='')),
                ('data', models.JSONField(default=dict)),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('assignment', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='dispatch.assignment')),
                ('call', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='calls.call')),
                ('unit', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='units.unit')),
            ],
            options={
                'db_table': 'dispatch_event',
                'ordering': ['id'],
                'indexes': [models.Index(fields=['call', 'id'], name='event_call_idx')],
            },
        ),
    ], database_operations=[])]
