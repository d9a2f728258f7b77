"""pytest's entry point for pygibson's fixtures (the ``gibson`` plugin).

pytest imports every installed plugin at start-up, so a plugin that fails
to import breaks every test run in that environment, whatever it tests.
This module takes the plugin from :mod:`pygibson.testing`; where pygibson
cannot be imported (a broken or half-built install), it provides the same
fixtures and options instead, the fixtures skipping the tests that ask for
them and saying why, so that every other test runs as usual.
"""

#: The fixtures pygibson.testing provides (a test checks the two agree).
FIXTURES = (
    "gibson_server",
    "gibson_unix_server",
    "gibson_noproc",
    "gibson_client",
    "gibson_async_client",
    "gibson_server_factory",
    "gibson_servers_factory",
    "gibson_client_factory",
)

try:
    from pygibson import testing as _plugin
except Exception as error:  # noqa: BLE001 - no failure may break pytest
    import pytest

    #: Why the fixtures skip; None when pygibson imported.
    UNAVAILABLE = "pygibson cannot be imported here (%s: %s); reinstall it" % (
        type(error).__name__, error)

    def pytest_addoption(parser):
        # The options of pygibson.testing, so that a command line naming
        # them still parses.
        group = parser.getgroup("gibson", "Gibson cache server fixtures (pygibson)")
        group.addoption("--gibson-address", action="store", default=None,
                        help="unavailable: " + UNAVAILABLE)
        group.addoption("--gibson-timeout", action="store", type=int, default=1000,
                        help="unavailable: " + UNAVAILABLE)

    def _skipping(name):
        @pytest.fixture(name=name)
        def fixture():
            pytest.skip("the %s fixture is unavailable: %s" % (name, UNAVAILABLE))

        return fixture

    for _name in FIXTURES:
        globals()[_name] = _skipping(_name)
else:
    UNAVAILABLE = None
    pytest_addoption = _plugin.pytest_addoption
    for _name in FIXTURES:
        globals()[_name] = getattr(_plugin, _name)
