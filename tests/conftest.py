"""Root fixtures. The real services (PostgreSQL, Redis) live in tests/services/ and are started
by the harness itself, once per session, on free loopback ports."""

pytest_plugins = ["tests.services.postgres", "tests.services.redis"]
