from tests.api.conftest import live_api  # noqa: F401 - the fixture, shared
