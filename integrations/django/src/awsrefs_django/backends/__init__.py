"""Database backends whose credentials come from a Secrets Manager secret and follow rotation.

``ENGINE``: ``awsrefs_django.backends.postgresql`` or ``awsrefs_django.backends.mysql``.
"""
