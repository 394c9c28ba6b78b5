# The read audit (dispatch/audit.py): one row per read of callers' personal data.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('calls', '0006_personal_data_erased_at'),
        ('dispatch', '0007_waiting_request_seq'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ReadAudit',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('at', models.DateTimeField()),
                ('actor_username', models.CharField(max_length=150)),
                ('action', models.CharField(choices=[('call.viewed', 'Call Viewed'), ('call.timeline', 'Call Timeline'), ('call.eido', 'Call Eido'), ('calls.searched', 'Calls Searched'), ('calls.exported', 'Calls Exported')], max_length=32)),
                ('remote_addr', models.GenericIPAddressField(blank=True, null=True)),
                ('query', models.CharField(blank=True, default='', max_length=200)),
                ('filters', models.JSONField(blank=True, default=dict)),
                ('row_count', models.PositiveIntegerField(blank=True, null=True)),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('call', models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='calls.call')),
            ],
            options={
                'ordering': ['-at', '-id'],
                'indexes': [models.Index(fields=['-at', '-id'], name='readaudit_at_idx'), models.Index(condition=models.Q(('call__isnull', False)), fields=['call', '-at'], name='readaudit_call_idx'), models.Index(fields=['actor_username', '-at'], name='readaudit_actor_idx'), models.Index(condition=models.Q(models.Q(('query', ''), _negated=True), ('filters__has_key', 'near'), _connector='OR'), fields=['at'], name='readaudit_search_text_idx')],
            },
        ),
    ]
