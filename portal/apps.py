from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"

    def ready(self) -> None:
        # Connects the Celery signal handlers (queue lag, worker metrics endpoint).
        from portal import celery_signals  # noqa: F401
