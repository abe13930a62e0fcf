"""A fetched value is data: never parsed as a reference, never quoted in an error.

Each value below would fail or change if it were parsed again (a malformed reference, a
mistyped prefix, a template, an escape), and each holds the canary, so an error or check line
that quoted it would fail the test. Through moto over HTTP: ``resolve`` (whole values and
templates, ``url:`` too), ``get`` and ``check``.
"""

from __future__ import annotations

import urllib.parse

import pytest

from awsrefs import Resolver
from tests.support.canary import CANARY, assert_no_secrets

VALUES = {
    "malformed": f"ssm:/{CANARY} x",
    "spaced": f" ssm:/{CANARY}",
    "mistyped": f"SSM:/{CANARY}",
    "misspelled": f"secretmanager:{CANARY}",
    "template": f"x ${{ssm:/{CANARY}}} y",
    "unclosed": f"x ${{ssm:/{CANARY}",
    "mistyped-in-template": f"x ${{Ssm:/{CANARY}}}",
    "escape": f"literal:ssm:/{CANARY}",
    "dollar-escape": f"$${{ssm:/{CANARY}}}",
    "optional": f"optional:ssm:/{CANARY}-gone",
    "url": f"url:ssm:/{CANARY}",
}


@pytest.fixture
def resolver(aws):
    aws.put_secret("app/values", VALUES)
    for name, value in VALUES.items():
        aws.put_parameter(f"/app/{name}", value, type="SecureString")
    r = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield r
    r.close()


def test_values_that_look_like_references_come_back_exactly(resolver):
    settings = {name: f"ssm:/app/{name}" for name in VALUES}
    settings.update({f"key-{name}": f"secretsmanager:app/values:{name}" for name in VALUES})
    settings.update({f"in-{name}": f"<${{ssm:/app/{name}}}>" for name in VALUES})
    settings.update({f"url-{name}": f"u:${{url:ssm:/app/{name}}}@h" for name in VALUES})
    resolved = resolver.resolve(settings)
    for name, value in VALUES.items():
        assert resolved[name] == value
        assert resolved[f"key-{name}"] == value
        assert resolved[f"in-{name}"] == f"<{value}>"
        assert resolved[f"url-{name}"] == f"u:{urllib.parse.quote(value, safe='')}@h"
        assert resolver.get(f"ssm:/app/{name}") == value
    checked = resolver.check(settings)
    assert all(c.failure is None for c in checked)
    assert_no_secrets(repr(checked), "check results")
