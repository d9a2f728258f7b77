"""The I/O-free core of the sharded clients: ``Sharded`` keeps the server
list, where each key goes, which servers are dead, and which servers a call
over all of them reaches; ``HashClient`` (blocking, threads) and
``AsyncHashClient`` (asyncio) add the I/O on top of it.
"""

import functools
import threading
from time import monotonic
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ._ring import Ketama, Node, Placement, router
from ._shard import Health, Outcome, ServerSpec, Shard, counts_against_server, merge, parse_servers

__all__ = ["Sharded", "Hasher", "Route", "client_maker"]

#: Makes a placement from ``(name, weight)`` nodes: ``Ketama``, ``Rendezvous``...
Hasher = Callable[[Sequence[Node]], Placement]
#: A key to its shard.
Route = Callable[[Any], Shard]


def client_maker(default: Callable[..., Any], pool_class: Callable[[], Callable[..., Any]],
                 pooled: bool, max_size: Optional[int],
                 client_factory: Optional[Callable[..., Any]],
                 options: Dict[str, Any]) -> Callable[..., Any]:
    """What makes each server's client from its address: ``client_factory``
    (default ``default``) with ``options``, or, with ``pooled`` or a
    ``max_size``, a pool (``pool_class()``, imported only then) of
    ``max_size`` (default 8) connections that makes them with it."""
    factory = client_factory or default
    if pooled or max_size is not None:
        options = dict(options, max_size=8 if max_size is None else max_size,
                       client_factory=factory)
        factory = pool_class()
    return functools.partial(factory, **options)


class Sharded:
    """What ``HashClient`` and ``AsyncHashClient`` share: the server list,
    where each key goes, and which servers are dead (see ``HashClient`` for
    what each option means); no I/O. ``make_client(**address)`` makes each
    server's client."""

    # Shown, and documented, as pygibson.hash's: its public methods
    # (server_for, servers, ...) are the sharded clients'.
    __module__ = "pygibson.hash"

    def __init__(self, servers: Sequence[ServerSpec], make_client: Callable[..., Any],
                 hasher: Hasher = Ketama, failover: bool = False, retry_attempts: int = 2,
                 retry_timeout: float = 1.0, dead_timeout: float = 60.0,
                 ignore_exc: bool = False) -> None:
        shards = parse_servers(servers)
        self._health = Health(retry_attempts, retry_timeout, dead_timeout)
        self.failover: bool = bool(failover)
        self.ignore_exc: bool = bool(ignore_exc)
        self._hasher = hasher
        made = []
        try:
            for shard in shards:
                shard.client = make_client(**shard.client_address())
                made.append(shard.client)
        except BaseException:
            for client in made:  # a bad option: close what was made before raising
                close = getattr(client, "close", None)
                if close is not None:
                    close()
            raise
        self._shards = tuple(shards)
        self._ring = hasher([(shard.ring_name, shard.weight) for shard in shards])
        #: key -> its shard over every server, dead or not.
        self._route = router(self._ring, self._shards)
        self._topology = threading.Lock()
        # The placement while some server is dead or on probation:
        # (key -> shard over the live ones or None, next revival time or None).
        self._degraded: Optional[Tuple[Optional[Route], Optional[float]]] = None
        self._live_routes: Dict[Tuple[int, ...], Route] = {}
        #: What single-key calls use: the plain route while every server is
        #: healthy (no other check on that path), _degraded_place otherwise.
        self._place: Route = self._route

    # -- placement ---------------------------------------------------------------

    @property
    def servers(self) -> List[str]:
        """The servers' addresses, in the order given."""
        return [shard.label for shard in self._shards]

    @property
    def dead_servers(self) -> List[str]:
        """The servers marked dead now."""
        now = monotonic()
        return [shard.label for shard in self._shards if shard.dead_until > now]

    def server_for(self, key: Any) -> str:
        """The address of the server the next call for ``key`` goes to
        (with ``failover=True`` and a dead server, where its keys are
        re-hashed), without any I/O."""
        return self._owner(key).label

    def client_for(self, key: Any) -> Any:
        """The client of the server that holds ``key``."""
        return self._owner(key).client

    def _owner(self, key: Any) -> Shard:
        """Where the key goes now, dead or not (no ServerDownError)."""
        degraded = self._current_degraded(monotonic())
        if degraded is not None and self.failover and degraded[0] is not None:
            return degraded[0](key)
        return self._route(key)

    def _current_degraded(self, now: float) -> Optional[Tuple[Optional[Route], Optional[float]]]:
        """The degraded state, brought up to date if a dead server's time
        is over (it is back in the placement, on probation)."""
        degraded = self._degraded
        if degraded is not None and degraded[1] is not None and now >= degraded[1]:
            degraded = self._refresh(now)
        return degraded

    def _degraded_place(self, key: Any) -> Shard:
        """The key's shard while some server is dead or on probation."""
        now = monotonic()
        degraded = self._current_degraded(now)
        if degraded is not None and self.failover and degraded[0] is not None:
            return degraded[0](key)
        shard = self._route(key)
        if shard.dead_until > now:
            raise self._health.down_error(shard, now, self.failover)
        return shard

    def _refresh(self, now: float) -> Optional[Tuple[Optional[Route], Optional[float]]]:
        """Rebuild the placement after a server died, rejoined or came off
        its dead time; returns the new degraded state (None: all healthy)."""
        with self._topology:
            if not any(shard.dead_until for shard in self._shards):
                self._degraded = None
                self._place = self._route
                return None
            live = tuple(shard for shard in self._shards if shard.dead_until <= now)
            revivals = [shard.dead_until for shard in self._shards if shard.dead_until > now]
            route = self._route_over(live) if self.failover and live else None
            self._degraded = (route, min(revivals) if revivals else None)
            self._place = self._degraded_place
            return self._degraded

    def _route_over(self, live: Tuple[Shard, ...]) -> Route:
        """The route over some of the servers, kept: a server that goes up
        and down rebuilds the same few."""
        indexes = tuple(shard.index for shard in live)
        route = self._live_routes.get(indexes)
        if route is None:
            placement = self._hasher([(shard.ring_name, shard.weight) for shard in live])
            route = self._live_routes[indexes] = router(placement, live)
        return route

    # -- health ------------------------------------------------------------------

    def _failed(self, shard: Shard, error: BaseException) -> None:
        if counts_against_server(error):
            now = monotonic()
            if self._health.failed(shard, now):
                self._refresh(now)

    def _succeeded(self, shard: Shard) -> None:
        if self._health.succeeded(shard):
            self._refresh(monotonic())

    # -- fan-out -----------------------------------------------------------------

    def _targets(self, probe_dead: bool, skip_dead: bool = False
                 ) -> Tuple[List[Shard], List[Outcome]]:
        """The shards a fan-out goes to, and the outcomes of the dead ones it
        skips (a ``ServerDownError`` each, unless failover or ``skip_dead``
        leaves them out)."""
        if self._degraded is None or probe_dead:
            return list(self._shards), []
        now = monotonic()
        targets: List[Shard] = []
        down: List[Outcome] = []
        for shard in self._shards:
            if shard.dead_until <= now:
                targets.append(shard)
            elif not (self.failover or skip_dead):
                down.append((shard, self._health.down_error(shard, now, False)))
        if skip_dead:
            return targets, []
        if not targets and not down:  # failover with every server dead
            down = [(shard, self._health.down_error(shard, now, True)) for shard in self._shards]
        return targets, down

    def _merged(self, kind: str, outcomes: List[Outcome], limit: Optional[int] = None,
                what: str = "the call") -> Any:
        result = merge(kind, outcomes, limit, self._owner, self.ignore_exc, what)
        if isinstance(result, BaseException):
            raise result
        return result

    def _with_down(self, targets: List[Shard], results: Sequence[Any],
                   down: List[Outcome]) -> List[Outcome]:
        """The outcomes of a fan-out in server order: those of the targets,
        and the dead servers' errors."""
        outcomes = list(zip(targets, results))
        if down:
            outcomes = sorted(outcomes + down, key=lambda outcome: outcome[0].index)
        return outcomes

    def _connect_operation(self) -> str:
        """What opens every connection: connect(), or a ping for pools,
        which open connections as they lend them."""
        pooled = not all(hasattr(shard.client, "connect") for shard in self._shards)
        return "ping" if pooled else "connect"

    def _check_quit(self, close: str) -> None:
        if not all(hasattr(shard.client, "quit") for shard in self._shards):
            raise AttributeError("quit() ends one connection, and this %s holds a pool per "
                                 "server: use %s()" % (type(self).__name__, close))

    def __repr__(self) -> str:
        dead = self.dead_servers
        return "<%s %s%s>" % (type(self).__name__, ", ".join(self.servers),
                              " (dead: %s)" % ", ".join(dead) if dead else "")
