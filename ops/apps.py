from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self):
        from celery.signals import worker_ready, worker_shutdown

        from . import heartbeats

        # Only the worker's main process gets these (not its forked children, not web or beat).
        worker_ready.connect(heartbeats.worker_started, weak=False, dispatch_uid="ops.worker_started")
        worker_shutdown.connect(heartbeats.worker_stopping, weak=False, dispatch_uid="ops.worker_stopping")
