"""Move DRF's plaintext tokens into knox's table as digests, then drop the plaintext.

Device tokens already paired with phones keep working: the phone's token text hashes to
the stored digest. Tokens of people get the personal expiry from now on; devices' and
gateways' tokens none (accounts/tokens.py)."""

from datetime import timedelta

from django.conf import settings
from django.db import migrations


def forwards(apps, schema_editor):
    from knox.crypto import hash_token
    from knox.settings import CONSTANTS

    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('authtoken_token') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return
        cursor.execute("""
            SELECT t.key, t.user_id, t.created,
                   EXISTS (SELECT 1 FROM units_unit u WHERE u.user_id = t.user_id)
                   OR EXISTS (SELECT 1 FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id
                              WHERE ug.user_id = t.user_id AND g.name = 'gateway')
            FROM authtoken_token t
        """)
        rows = cursor.fetchall()
    AuthToken = apps.get_model("knox", "AuthToken")
    ttl_hours = getattr(settings, "API_TOKEN_TTL_HOURS", 0)
    from django.utils import timezone

    now = timezone.now()
    AuthToken.objects.bulk_create([
        AuthToken(digest=hash_token(key), token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH], user_id=user_id,
                  created=created, expiry=None if machine or not ttl_hours else now + timedelta(hours=ttl_hours))
        for key, user_id, created, machine in rows
    ], ignore_conflicts=True)
    schema_editor.execute("DROP TABLE authtoken_token")


class Migration(migrations.Migration):
    dependencies = [
        ("knox", "0009_extend_authtoken_field"),
        ("units", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
