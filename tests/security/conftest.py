"""The web tests' site (a real app over a drafted SQLite inbox), for the security tests."""

from tests.integration.web.conftest import site  # noqa: F401  (fixture, used by name)
