"""The Celery application. With no broker configured it uses kombu's filesystem transport."""

import os

from celery import Celery

from tasks.schedule import BEAT_SCHEDULE, TASK_MODULES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_site.settings")

app = Celery("moorage", include=list(TASK_MODULES))
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = BEAT_SCHEDULE
