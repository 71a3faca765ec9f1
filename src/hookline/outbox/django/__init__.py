"""The outbox table as a Django app: add `"hookline.outbox.django"` to INSTALLED_APPS and
`manage.py migrate` creates it."""
