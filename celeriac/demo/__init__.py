"""The sample project ``celeriac demo`` runs: a Celery-style project, as it reads after
``celery`` → ``celeriac`` in its imports. ``celery.py`` makes the app, ``celeryconfig``
holds its settings and beat schedule, ``tasks`` its tasks, ``run`` the tour."""
