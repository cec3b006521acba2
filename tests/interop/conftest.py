"""Fixtures for the interop tests (real Python peers from the project venv
against the C library and programs). Run through `make test`, which sets
LSLAPICFG, DP_BIN_DIR and DP_LSL_LIB in one place (the Makefile)."""
import os
from pathlib import Path

import pytest

import helpers


def pytest_configure(config):
    cfg = os.environ.get("LSLAPICFG", "")
    expected = helpers.ROOT / "tests" / "lsl_api.cfg"
    if not cfg or Path(cfg).resolve() != expected.resolve():
        raise pytest.UsageError(
            f"LSLAPICFG must point at {expected} so that LSL stays on this machine; "
            "run the tests with `make test` (or `make test-py`)."
        )
    if not helpers.BIN_DIR.is_dir():
        raise pytest.UsageError(f"no build at {helpers.BIN_DIR}: run `make build` first")


@pytest.fixture
def procs():
    """Processes started through this fixture are ended, with their process
    groups, when the test ends, whatever happened."""
    p = helpers.Processes()
    yield p
    p.cleanup()


@pytest.fixture
def port():
    return helpers.free_port()


@pytest.fixture(autouse=True)
def _no_records_to_9020(monkeypatch):
    """The network log handler is on by default and aims at 127.0.0.1:9020, where
    a real Dareplane log server may run. Every test (and every process it starts,
    and the library loaded through ctypes) logs to a free port instead, unless
    the test sets DP_LOG_PORT itself."""
    monkeypatch.setenv("DP_LOG_PORT", str(helpers.free_port()))
