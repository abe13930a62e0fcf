"""AwsRefsSettingsError survives pickle and deepcopy (a worker process hands it to its parent)."""

from __future__ import annotations

import copy
import pickle

from awsrefs_pydantic import AwsRefsSettingsError

import awsrefs


def test_settings_error_round_trips():
    failure = awsrefs.Failure("db.host", "ssm:/app/host", awsrefs.FailureKind.NOT_FOUND, "gone")
    error = AwsRefsSettingsError("Settings", [(failure, "EnvSettingsSource")])
    for copied in (pickle.loads(pickle.dumps(error)), copy.deepcopy(error)):
        assert type(copied) is AwsRefsSettingsError
        assert str(copied) == str(error)
        assert copied.failures == error.failures
        assert copied.sources == ("EnvSettingsSource",)
