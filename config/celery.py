"""The Celery application; tasks re-enter the audit context they were sent with."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("auditdesk", task_cls="core.tasks:ContextTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
