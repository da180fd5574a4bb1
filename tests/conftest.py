import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture
def on_test_device():
    """ember's factories and module constructors make what they make on the device under test
    (EMBER_TEST_DEVICE) for the whole test; yields the device name."""
    import oracle  # imports torch: only for the tests that ask for this fixture
    with oracle.device_default() as dev:
        yield dev


@pytest.fixture
def cpu_only(monkeypatch):
    """Pin the oracle to the CPU: for tests of CPU-only behaviour (CPU autocast policy, ...)
    that must not move to EMBER_TEST_DEVICE."""
    import oracle
    monkeypatch.setattr(oracle, "DEVICE", "cpu")
