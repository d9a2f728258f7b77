"""Where a Gibson server is, as people write it: ``HOST:PORT``,
``[v6]:PORT`` or a unix socket path.

Shared by the pytest plugin (``--gibson-address``, ``$PYGIBSON_TEST_ADDRESS``)
and ``gibson-cli`` (the same variable as its default), so that both read an
address the same way. Standard library only: the plugin must not need the
extension, and the command line must not need pytest.
"""

from typing import Optional, Tuple, Union

__all__ = ["ADDRESS_ENV", "GibsonAddress", "client_address", "parse_address"]

#: Environment variable naming an existing server: the plugin's
#: ``gibson_noproc`` fixture and gibson-cli's default address.
ADDRESS_ENV: str = "PYGIBSON_TEST_ADDRESS"


class GibsonAddress:
    """Where a server is: ``host``/``port`` for TCP, or ``unix_socket``.

    Has the same address attributes as ``GibsonServer``, so fixtures and
    factories accept either.
    """

    def __init__(self, host: Optional[str] = None, port: Optional[int] = None,
                 unix_socket: Optional[str] = None) -> None:
        self.host: Optional[str] = host
        self.port: Optional[int] = port
        self.unix_socket: Optional[str] = unix_socket

    @property
    def address(self) -> Union[str, Tuple[Optional[str], Optional[int]]]:
        """``(host, port)`` for TCP, the socket path for unix."""
        return self.unix_socket if self.unix_socket else (self.host, self.port)

    def __repr__(self) -> str:
        return "GibsonAddress(%r)" % (self.address,)


def parse_address(text: str) -> GibsonAddress:
    """``"HOST:PORT"``, ``"[v6]:PORT"`` or a unix socket path (anything
    containing ``/``) -> :class:`GibsonAddress`."""
    text = text.strip()
    if "/" in text:
        return GibsonAddress(unix_socket=text)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError("expected HOST:PORT or a unix socket path, got %r" % text)
    return GibsonAddress(host=host.strip("[]") or "127.0.0.1", port=int(port))


def client_address(addr: str, port_given: bool
                   ) -> Tuple[Optional[str], Optional[int], Optional[str]]:
    """``Client(addr)`` as people write it: ``(host, port, unix_path)``.

    ``"HOST:PORT"`` and ``"[v6]:PORT"`` carry a port (``port`` is then None
    unless written), anything with ``/`` is a unix socket path, and a bare
    IPv6 literal (two colons or more) is a host. ``port_given`` says whether
    a port other than the default was passed too, which is refused for an
    address with a port rather than one silently winning. Called by both implementations of
    Client, only for an addr holding ``:``, ``/`` or ``[``.
    """
    from .exceptions import ArgumentError  # not at import: the plugin reads this module

    if "/" in addr:
        return None, None, addr
    if addr.startswith("["):
        host, sep, rest = addr[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ArgumentError("addr %r: expected [IPV6]:PORT, [IPV6], HOST:PORT, a host or "
                                "a unix socket path" % addr)
        port = rest[1:] or None
    elif addr.count(":") == 1:
        host, _, port = addr.partition(":")
    else:
        return addr, None, None  # a host, or a bare IPv6 literal
    if port is None:
        return host, None, None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ArgumentError("addr %r: the port after ':' must be a number between 1 and "
                            "65535" % addr)
    if port_given:
        raise TypeError("addr %r already names a port; pass port= or a port in addr, not "
                        "both" % addr)
    return host, int(port), None
