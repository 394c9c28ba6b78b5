from datetime import timedelta

from axes.models import AccessLog
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .tokens import purge_expired


@shared_task(ignore_result=True)
def purge_expired_tokens():
    """Expired tokens are refused already; this only keeps the table small. The sign-in log
    (axes: username, address, browser) is personal data too and follows the retention."""
    purged = purge_expired()
    days = settings.PERSONAL_DATA_RETENTION_DAYS
    if days:
        AccessLog.objects.filter(attempt_time__lt=timezone.now() - timedelta(days=days)).delete()
    return purged
