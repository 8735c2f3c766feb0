"""Root fixtures. The real services (PostgreSQL, Redis) live in tests/services/ and are started
by the harness itself, once per session, on free loopback ports."""

pytest_plugins = ["tests.services.postgres", "tests.services.redis"]

from app.entrypoints.composition import install_defaults  # noqa: E402  # after the docstring and plugins

# the tests' composition root: the engines and feed adapters PKG ships, as create_app installs
install_defaults()
