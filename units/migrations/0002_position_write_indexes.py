"""Indexes paid for on every position report and never read (units/models.py).

Django's AlterField drops the two spatial indexes but not a foreign key's index when
db_index becomes False (it finds no index of the type it looks for), so that one is
dropped by name: the name Django gave it in 0001 on every database.
"""

import django.contrib.gis.db.models.fields
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('units', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='unit',
            name='location',
            field=django.contrib.gis.db.models.fields.PointField(blank=True, geography=True, null=True, spatial_index=False, srid=4326),
        ),
        migrations.AlterField(
            model_name='unitposition',
            name='location',
            field=django.contrib.gis.db.models.fields.PointField(geography=True, spatial_index=False, srid=4326),
        ),
        migrations.AlterField(
            model_name='unitposition',
            name='unit',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='positions', to='units.unit'),
        ),
        migrations.RunSQL(
            'DROP INDEX IF EXISTS "units_unitposition_unit_id_ed613739"',
            reverse_sql='CREATE INDEX IF NOT EXISTS "units_unitposition_unit_id_ed613739" ON "units_unitposition" ("unit_id")',
        ),
    ]
