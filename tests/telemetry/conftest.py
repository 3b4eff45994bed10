from tests.api.conftest import client_for, live_api, make_sandbox  # noqa: F401 - shared fixtures
from tests.cli.test_cli_live import cli  # noqa: F401 - the CLI runner
