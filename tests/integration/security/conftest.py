"""Fixtures of the security suite (the helpers live in isolasec.py)."""
import pytest

import isolasec


@pytest.fixture(scope="session")
def spec_config(tmp_path_factory):
    return isolasec.load_spec(tmp_path_factory.mktemp("spec"))


@pytest.fixture
def rt(spec_config):
    yield from isolasec.runtime_fixture(spec_config)
