"""awsrefs for Flask: ``ssm:`` and ``secretsmanager:`` references in ``app.config``.

>>> from flask import Flask
>>> from awsrefs_flask import AwsRefs
>>> app = Flask(__name__)
>>> app.config.from_prefixed_env()  # doctest: +SKIP
>>> AwsRefs(app)  # doctest: +SKIP

See :class:`AwsRefs` for the ``AWSREFS_*`` options, and ``flask awsrefs check``.
"""

from __future__ import annotations

from awsrefs_flask._extension import (
    AwsRefs,
    AwsRefsState,
    ConfigError,
    cli,
    get_resolver,
    get_state,
)

__all__ = ["AwsRefs", "AwsRefsState", "ConfigError", "cli", "get_resolver", "get_state"]
