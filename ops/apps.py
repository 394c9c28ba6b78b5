from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self):
        from celery.signals import task_success, worker_ready, worker_shutdown

        from . import heartbeats, sockets

        # Only the worker's main process gets these (not its forked children, not web or beat).
        worker_ready.connect(heartbeats.worker_started, weak=False, dispatch_uid="ops.worker_started")
        worker_shutdown.connect(heartbeats.worker_stopping, weak=False, dispatch_uid="ops.worker_stopping")
        # A sweep that ran to the end proves beat and a worker both alive (/healthz).
        task_success.connect(heartbeats.sweep_done, weak=False, dispatch_uid="ops.sweep_done")
        sockets.install()
