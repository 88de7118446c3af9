"""One temporary Prefect server for all the tests of this pipeline."""

from collections.abc import Iterator

import pytest
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(autouse=True, scope="session")
def prefect_server() -> Iterator[None]:
    """Run every flow of these tests against a throwaway Prefect server."""
    with prefect_test_harness():
        yield
