from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = "Dispatch"

    def ready(self):
        # Events carry the REST representation of their object, which this app's API
        # defines; the journal (core) asks for it through this registration.
        from core.journal import register_representation

        from .representations import assignment_data, call_data, unit_data

        register_representation("call.", call_data)
        register_representation("assignment.", assignment_data)
        register_representation("unit.", unit_data)

        # How the parameters of stored texts read in the reader's language (core/texts.py).
        from .labels import register

        register()
