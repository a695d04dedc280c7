"""A second package of tasks, found by ``autodiscover_tasks`` (``related_name='jobs'``)."""
