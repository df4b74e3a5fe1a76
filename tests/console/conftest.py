"""Fixtures the console's tests share with others."""

from tests.e2e.test_write_failures import dropping_server

__all__ = ["dropping_server"]
