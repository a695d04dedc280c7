"""A Celery project as users write it: an app module, a config module, tasks, signals."""
