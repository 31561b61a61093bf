import pytest

import edgebench


@pytest.fixture(scope="session")
def tiny_dims():
    return edgebench.Sim("tiny", 1).dims()
