"""Supply values for references in your own tests: no AWS, no network.

Inside :func:`static_values`, every :class:`~awsrefs.Resolver` of the process (the default
one, and those the integrations use) reads from the values you give instead of AWS::

    from awsrefs.testing import static_values

    def test_settings():
        with static_values({"ssm:/myapp/db-host": "localhost",
                            "secretsmanager:myapp/db": {"username": "app", "password": "pw"}}):
            assert awsrefs.resolve("secretsmanager:myapp/db:password") == "pw"

With pytest, the ``awsrefs_values`` fixture (a plugin loaded automatically when awsrefs is
installed) does the same for one test and lets the test add values as it goes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from awsrefs._resolver import swap
from awsrefs.backends.static import StaticBackend

__all__ = ["StaticBackend", "static_values"]


@contextmanager
def static_values(values: Mapping[str, Any] | None = None) -> Iterator[StaticBackend]:
    """Make every resolver serve ``values`` instead of calling AWS, for the ``with`` block.

    Args:
        values: Reference text to value. Parameters map to text; secrets to text, bytes or
            a dict (a JSON secret). A stage or version id in the key pins that version
            (``"secretsmanager:db::AWSPENDING"``). Anything absent is "not found", as it
            would be in AWS, so ``optional:`` references and error messages behave the same.

    Yields:
        The backend: call ``.set(reference, value)`` or ``.remove(reference)`` to change
        values during the test, and read ``.stats`` for the calls made.
    """
    backend = StaticBackend(values)
    previous = swap(backend)  # resolvers drop what they cached before
    try:
        yield backend
    finally:
        swap(previous)
