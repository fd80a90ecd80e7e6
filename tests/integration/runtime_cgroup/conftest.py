"""Fixtures of the cgroup-limit suite; the bundle/runtime helpers are shared with the security suite."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "security"))
import isolasec  # noqa: E402


@pytest.fixture(scope="session")
def spec_config(tmp_path_factory):
    return isolasec.load_spec(tmp_path_factory.mktemp("spec"))


@pytest.fixture
def rt(spec_config):
    yield from isolasec.runtime_fixture(spec_config)


@pytest.fixture
def cgmount():
    return isolasec.cgroup2_mount()
