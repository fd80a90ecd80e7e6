import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from agent_util import BIN, Agent  # noqa: E402


@pytest.fixture
def agent(tmp_path):
    for b in ("isola", "isola-agent"):
        if not (BIN / b).exists():
            pytest.fail("%s not built (make)" % (BIN / b))
    a = Agent(tmp_path)
    yield a
    a.stop()
