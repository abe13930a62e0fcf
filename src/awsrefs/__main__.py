"""``python -m awsrefs``: the ``awsrefs`` command."""

from awsrefs.cli import main

raise SystemExit(main())
