"""The client behind gibson-cli, and calls that Ctrl-C can cancel.

The client waits for the server inside C with ``poll()``, which resumes
after a signal, so SIGINT during a blocking call would only be seen when
the call ends (at its timeout, or never with ``--timeout 0``). Each call
therefore runs in a worker thread while the main thread waits on an
event, which SIGINT does interrupt. On Ctrl-C the call is abandoned
together with its client: the worker keeps the old client until its call
ends (at the deadline or when the server answers) and then drops it,
which closes its connection; the session goes on with a new client. A
cancelled write may still have been executed by the server.
"""

import signal
import threading

from .. import Client
from ..exceptions import ConnectionError, ProtocolError, TimeoutError

__all__ = ["Session", "Call", "Cancelled", "CONNECTION_ERRORS"]

#: Errors after which the connection is gone (the client closed it).
CONNECTION_ERRORS = (ConnectionError, TimeoutError, ProtocolError)


class Cancelled(Exception):
    """Ctrl-C ended a call; its client was abandoned."""


class Call:
    """``function(*args)`` running in a worker thread from the start;
    ``result()`` waits for it, and KeyboardInterrupt there leaves the
    worker to finish on its own."""

    def __init__(self, function, *args):
        self._outcome = []
        self._done = threading.Event()
        _start_without_sigint(threading.Thread(
            target=self._work, args=(function, args), name="gibson-cli-call", daemon=True))

    def _work(self, function, args):
        try:
            self._outcome.append((True, function(*args)))
        except BaseException as exc:  # handed to the caller, whatever it is
            self._outcome.append((False, exc))
        finally:
            self._done.set()

    def result(self):
        self._done.wait()
        succeeded, value = self._outcome[0]
        if succeeded:
            return value
        raise value


def _start_without_sigint(thread):
    # SIGINT must go to the main thread, whose wait it interrupts: a signal
    # taken by the worker would only set Python's flag, and the main thread
    # would sleep on until the reply. A thread inherits the signal mask of
    # the one that starts it; a SIGINT arriving meanwhile waits until the
    # mask is restored, and is then the main thread's.
    if not hasattr(signal, "pthread_sigmask"):
        thread.start()
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class Session:
    """A ``pygibson.Client`` made from the command line's options
    (``Client`` keyword arguments), replaced when a call is cancelled."""

    def __init__(self, **client_options):
        # A prefix that matches nothing shows "(empty)" or "(integer) 0", as
        # redis-cli shows an empty KEYS or a DEL of nothing, rather than an
        # error line.
        client_options.setdefault("empty_when_no_match", True)
        self._options = client_options
        self.client = Client(**client_options)

    @property
    def address(self) -> str:
        """``127.0.0.1:10128``, ``[::1]:10128`` or the socket path."""
        client = self.client
        if client.unix_socket:
            return client.unix_socket
        host = client.addr
        return "%s:%d" % ("[%s]" % host if ":" in host else host, client.port)

    @property
    def connected(self) -> bool:
        return not self.client.closed

    def run(self, function, *args):
        """``function(client, *args)``, cancellable by Ctrl-C (Cancelled)."""
        return self.wait(self.start(function, *args))

    def start(self, function, *args) -> Call:
        """``function(client, *args)`` started in a worker; see wait()."""
        try:
            return Call(function, self.client, *args)
        except KeyboardInterrupt:
            self._abandon()
            raise Cancelled() from None

    def wait(self, call: Call):
        """The result of a started call, cancellable by Ctrl-C (Cancelled)."""
        try:
            return call.result()
        except KeyboardInterrupt:
            self._abandon()
            raise Cancelled() from None

    def call(self, method: str, *args):
        """The client's ``method(*args)``, cancellable by Ctrl-C."""
        return self.run(_call_method, method, *args)

    def _abandon(self):
        # The old client stays with the worker thread, which drops (and so
        # closes) it when its call ends: closing it here would wait for
        # the call, since the client holds its lock during a request.
        self.client = Client(**self._options)

    def close(self):
        self.client.close()


def _call_method(client, method, *args):
    return getattr(client, method)(*args)
