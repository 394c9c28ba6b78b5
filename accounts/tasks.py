from celery import shared_task

from .tokens import purge_expired


@shared_task(ignore_result=True)
def purge_expired_tokens():
    """Expired tokens are refused already; this only keeps the table small."""
    return purge_expired()
