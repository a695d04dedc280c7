"""The migration suite: one Celery project run under Celery and, after the import swap a
user would make, under celeriac, on the same private Redis; the checks compare what users
see."""
