"""A stand-in for gunicorn or celery: it sees plain values in its environment."""

import os

password = os.environ["DB_PASSWORD"]
print(f"connecting to {os.environ['DB_HOST']} as {os.environ['DB_USER']}")
print(f"password of {len(password)} characters, resolved: {not password.startswith('secrets')}")
