"""Where a Gibson server is, as people write it: ``HOST:PORT``,
``[v6]:PORT`` or a unix socket path.

Shared by the pytest plugin (``--gibson-address``, ``$PYGIBSON_TEST_ADDRESS``)
and ``gibson-cli`` (the same variable as its default), so that both read an
address the same way. Standard library only: the plugin must not need the
extension, and the command line must not need pytest.
"""

__all__ = ["ADDRESS_ENV", "GibsonAddress", "parse_address"]

#: Environment variable naming an existing server: the plugin's
#: ``gibson_noproc`` fixture and gibson-cli's default address.
ADDRESS_ENV = "PYGIBSON_TEST_ADDRESS"


class GibsonAddress:
    """Where a server is: ``host``/``port`` for TCP, or ``unix_socket``.

    Has the same address attributes as ``GibsonServer``, so fixtures and
    factories accept either.
    """

    def __init__(self, host=None, port=None, unix_socket=None):
        self.host = host
        self.port = port
        self.unix_socket = unix_socket

    @property
    def address(self):
        return self.unix_socket if self.unix_socket else (self.host, self.port)

    def __repr__(self):
        return "GibsonAddress(%r)" % (self.address,)


def parse_address(text):
    """``"HOST:PORT"``, ``"[v6]:PORT"`` or a unix socket path (anything
    containing ``/``) -> :class:`GibsonAddress`."""
    text = text.strip()
    if "/" in text:
        return GibsonAddress(unix_socket=text)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError("expected HOST:PORT or a unix socket path, got %r" % text)
    return GibsonAddress(host=host.strip("[]") or "127.0.0.1", port=int(port))
