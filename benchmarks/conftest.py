"""The benchmarks reuse the socket fixture of the tests."""

from tests.conftest import _loopback_sockets  # noqa: F401
