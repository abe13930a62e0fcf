"""The pydantic-settings releases the private-API code knows, and that it still works."""

from __future__ import annotations

import sys
from pathlib import Path

import pydantic_settings
import pytest
from awsrefs_pydantic import _compat, awsrefs_sources
from packaging.requirements import Requirement
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

import awsrefs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_installed_pydantic_settings_is_one_the_compat_code_knows():
    assert _compat.supported(), _compat.unsupported_message()


def test_declared_bounds_are_the_compat_range():
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (requirement,) = (Requirement(d) for d in declared if d.startswith("pydantic-settings"))
    (low_major, low_minor), (high_major, high_minor) = _compat.SUPPORTED
    assert str(requirement.specifier) == f"<{high_major}.{high_minor},>={low_major}.{low_minor}"


def test_a_release_outside_the_range_is_named_in_a_warning(monkeypatch):
    assert [_compat.supported(v) for v in ((2, 3), (2, 4), (2, 16), (2, 17), (3, 0))] == [
        False,
        True,
        True,
        False,
        False,
    ]
    monkeypatch.setattr(pydantic_settings, "__version__", "2.17.0")
    with pytest.warns(_compat.UnsupportedVersionWarning) as caught:
        _compat.warn_if_unsupported()
    (warning,) = caught
    assert "supports pydantic-settings>=2.4,<2.17; 2.17.0 is installed" in str(warning.message)
    assert "_compat.py" in str(warning.message)


class _Greeting(PydanticBaseSettingsSource):
    """A custom source that reads what the sources before it produced (public properties)."""

    def get_field_value(self, field, field_name):
        return None, field_name, False

    def __call__(self):
        name = self.current_state.get("name", "nobody")
        before = sorted(self.settings_sources_data)
        return {"greeting": f"hello {name}", "before": before}


def test_wrapped_sources_see_the_state_pydantic_settings_gives_them(aws, monkeypatch):
    aws.put_parameter("/app/title", "Orders")
    monkeypatch.setenv("CMP_NAME", "alice")
    monkeypatch.setenv("CMP_TITLE", "ssm:/app/title")
    resolver = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)

    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="CMP_")
        name: str
        title: str
        greeting: str
        before: list[str]

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls,
            init_settings,
            env_settings,
            dotenv_settings,
            file_secret_settings,
        ):
            return awsrefs_sources(
                settings_cls, env_settings, _Greeting(settings_cls), resolver=resolver
            )

    settings = Settings()

    assert (settings.name, settings.title) == ("alice", "Orders")
    assert settings.greeting == "hello alice"
    assert settings.before == ["EnvSettingsSource"]
    resolver.close()
