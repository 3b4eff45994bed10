"""Sidestage's Django project: settings, URLs, the Celery app, auth, health."""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
