"""Test configuration: every test session compiles into a fresh, private cache."""
import os
import tempfile

import pytest


def pytest_configure(config):
    os.environ["SYMGEN_CACHE_DIR"] = tempfile.mkdtemp(prefix="symgen-test-cache-")
    os.environ.setdefault("NUMBA_NUM_THREADS", "2")


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """A cache directory of the test's own (for cache-behaviour tests)."""
    monkeypatch.setenv("SYMGEN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def examples_path():
    """Put examples/ on sys.path so tests can import the example models."""
    import sys
    from pathlib import Path
    path = str(Path(__file__).resolve().parent.parent / "examples")
    if path not in sys.path:
        sys.path.insert(0, path)
    return path
