"""Install the incident-type catalogue and the role groups, so every deployment has them."""

from django.db import migrations

from calls.catalogue import install


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
