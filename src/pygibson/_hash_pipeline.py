"""``HashPipeline``: a pipeline over several servers.

Each queued call goes into a pipeline of its own server's client (a call
that spans servers goes into every one of them); ``execute()`` runs the
servers' pipelines at once and puts the results back in the order of the
calls, merging the parts of the spanning ones.
"""

import functools
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, Union, cast

from ._operations import OPERATIONS, Operation
from ._shard import Shard, define, is_failure, merge
from .exceptions import PartialFailureError, ServerDownError

if TYPE_CHECKING:
    from ._sharded import Sharded
    from .hash import HashClient, Key, Value

__all__ = ["HashPipeline"]


class _Group:
    """One server's share of a pipeline, and what its execution gave."""

    __slots__ = ("shard", "pipeline", "size", "outcome", "failed")

    def __init__(self, shard: Shard):
        self.shard = shard
        self.pipeline = shard.client.pipeline()
        self.size = 0
        self.outcome: Any = None
        self.failed = False

    def result(self, position: int) -> Any:
        return self.outcome if self.failed else self.outcome[position]


class _Known:
    """A call's result known when queued: its server is dead."""

    __slots__ = ("shard", "error")

    def __init__(self, shard: Shard, error: BaseException):
        self.shard = shard
        self.error = error


#: One server's part of a queued call: its place in that server's pipeline.
Part = Union[Tuple[_Group, int], _Known]


class _Spanning:
    """A queued call over several servers, merged by its result kind."""

    __slots__ = ("kind", "limit", "parts")

    def __init__(self, kind: str, limit: Optional[int], parts: List[Part]):
        self.kind = kind
        self.limit = limit
        self.parts = parts


class HashPipeline:
    """Queues calls as ``Pipeline`` does (each method returns the pipeline);
    ``execute(raise_on_error=True)`` returns every call's result in order.

    Calls are checked when queued, as on ``Pipeline``. Servers that fail
    make ``execute()`` raise ``PartialFailureError`` whose ``.results``
    holds every result, the failed servers' exceptions in place (with
    ``ignore_exc=True`` those results are returned instead). Otherwise,
    with ``raise_on_error=True``, the first refusal is raised carrying every
    result in ``.results``; with False, refusals are returned in place.
    """

    def __init__(self, client: "Sharded"):
        self._client = client
        self._groups: Dict[Shard, _Group] = {}
        self._slots: List[Any] = []  # (group, position), _Known or _Spanning
        self._mixed = False

    def reset(self) -> None:
        """Forget the queued calls."""
        self._groups = {}
        self._slots = []
        self._mixed = False  # holds calls over several servers, or on dead ones

    def __len__(self) -> int:
        return len(self._slots)

    def __bool__(self) -> bool:
        return True

    def __enter__(self) -> "HashPipeline":
        """Return the pipeline, for a with block."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Forget the calls not executed."""
        self.reset()

    def _group(self, shard: Shard) -> _Group:
        group = self._groups[shard] = _Group(shard)
        return group

    def _known(self, key: Any, error: BaseException) -> "HashPipeline":
        self._mixed = True
        self._slots.append(_Known(self._client._owner(key), error))
        return self

    def _queue_all(self, kind: str, name: str, args: Tuple[Any, ...], limit: Optional[int],
                   probe_dead: bool, skip_dead: bool = False) -> "HashPipeline":
        targets, down = self._client._targets(probe_dead, skip_dead)
        parts: List[Part] = []
        for shard in targets:
            group = self._groups.get(shard) or self._group(shard)
            # Queued, then counted: a call the pipeline refuses (a bad
            # argument) raises here and leaves no trace.
            getattr(group.pipeline, name)(*args)
            parts.append((group, group.size))
            group.size += 1
        parts.extend(_Known(shard, error) for shard, error in down)
        self._mixed = True
        self._slots.append(_Spanning(kind, limit, parts))
        return self

    def _ran(self, group: _Group, outcome: Any, failed: bool) -> None:
        """Record what a server's pipeline gave, and what it says of the
        server's health."""
        group.outcome, group.failed = outcome, failed
        if failed:
            self._client._failed(group.shard, outcome)
        elif group.shard.failures:
            self._client._succeeded(group.shard)

    def _run_group(self, group: _Group) -> None:
        try:
            outcome = group.pipeline.execute(raise_on_error=False)
        except Exception as error:  # the group's calls all get it
            self._ran(group, error, True)
        else:
            self._ran(group, outcome, False)

    def _take(self) -> Tuple[List[_Group], List[Any], bool]:
        """The queued groups and calls, the pipeline left empty for reuse."""
        taken = list(self._groups.values()), self._slots, self._mixed
        self.reset()
        return taken

    def execute(self, raise_on_error: bool = True) -> List[Any]:
        """Run the queued calls and return their results in order."""
        groups, slots, mixed = self._take()
        if groups:
            client = cast("HashClient", self._client)
            client._runner.run([functools.partial(self._run_group, group) for group in groups])
        return self._results(groups, slots, mixed, raise_on_error)

    def _results(self, groups: List[_Group], slots: List[Any], mixed: bool,
                 raise_on_error: bool) -> List[Any]:
        """The calls' results in order, from what the groups gave; raises as
        ``execute()`` says."""
        failed: Dict[str, BaseException] = {
            group.shard.label: group.outcome for group in groups
            if group.failed and is_failure(group.outcome)}
        results: List[Any]
        if not mixed and not any(group.failed for group in groups):
            # The usual batch: single-key calls, every server answered.
            results = [group.outcome[position] for group, position in slots]
        else:
            results = []
            for slot in slots:
                if type(slot) is tuple:
                    results.append(slot[0].result(slot[1]))
                elif type(slot) is _Known:
                    failed.setdefault(slot.shard.label, slot.error)
                    results.append(slot.error)
                else:
                    results.append(self._merge(slot, failed))
        if failed and not self._client.ignore_exc:
            error = PartialFailureError.for_servers(results, failed, "the pipeline")
            error.results = results
            raise error
        if raise_on_error:
            for result in results:
                if isinstance(result, BaseException) and not is_failure(result):
                    result.results = results  # type: ignore[attr-defined]
                    raise result
        return results

    def _merge(self, slot: _Spanning, failed: Dict[str, BaseException]) -> Any:
        outcomes = []
        for part in slot.parts:
            if isinstance(part, _Known):
                failed.setdefault(part.shard.label, part.error)
                outcomes.append((part.shard, part.error))
            else:
                group, position = part
                outcomes.append((group.shard, group.result(position)))
        client = self._client
        return merge(slot.kind, outcomes, slot.limit, client._owner, client.ignore_exc,
                     "the pipeline")

    # The operations, made from pygibson.OPERATIONS below the class.
    if TYPE_CHECKING:  # their signatures, for type checkers (tests hold them to the table)
        def set(self, key: "Key", value: "Value", ttl: int = 0) -> "HashPipeline": ...
        def ttl(self, key: "Key", ttl: int) -> "HashPipeline": ...
        def get(self, key: "Key") -> "HashPipeline": ...
        def dl(self, key: "Key") -> "HashPipeline": ...
        def delete(self, key: "Key") -> "HashPipeline": ...
        def inc(self, key: "Key") -> "HashPipeline": ...
        def dec(self, key: "Key") -> "HashPipeline": ...
        def lock(self, key: "Key", seconds: int) -> "HashPipeline": ...
        def unlock(self, key: "Key") -> "HashPipeline": ...
        def mset(self, prefix: "Key", value: "Value") -> "HashPipeline": ...
        def mttl(self, prefix: "Key", ttl: int) -> "HashPipeline": ...
        def mget(self, prefix: "Key", limit: Optional[int] = None) -> "HashPipeline": ...
        def mdl(self, prefix: "Key") -> "HashPipeline": ...
        def mdelete(self, prefix: "Key") -> "HashPipeline": ...
        def minc(self, prefix: "Key") -> "HashPipeline": ...
        def mdec(self, prefix: "Key") -> "HashPipeline": ...
        def mlock(self, prefix: "Key", seconds: int) -> "HashPipeline": ...
        def munlock(self, prefix: "Key") -> "HashPipeline": ...
        def count(self, prefix: "Key") -> "HashPipeline": ...
        def stats(self) -> "HashPipeline": ...
        def ping(self) -> "HashPipeline": ...
        def meta(self, key: "Key", field: str) -> "HashPipeline": ...
        def keys(self, prefix: "Key") -> "HashPipeline": ...
        def quit(self) -> "HashPipeline": ...



_QUEUE_KEY = """
def {name}(self{params}):
    try:
        shard = self._client._place({key})
    except ServerDownError as error:
        return self._known({key}, error)
    group = self._groups.get(shard)
    if group is None:
        group = self._group(shard)
    group.pipeline.{name}({args})
    self._slots.append((group, group.size))
    group.size += 1
    return self
"""

_QUEUE_PREFIX = """
def {name}(self{params}):
    return self._queue_all({kind!r}, {name!r}, ({args},), {limit}, False)
"""


def _make_queuer(op: Operation, name: str) -> Callable[..., HashPipeline]:
    if not op.params:
        # stats() and ping() try dead servers too, as on HashClient.
        kind = "stats" if op.name == "stats" else "none"
        quit = op.result == "quit"

        def queue(self: HashPipeline) -> HashPipeline:
            return self._queue_all(kind, name, (), None, not quit, quit)

        queue.__name__, queue.__qualname__ = name, "HashPipeline." + name
        queue.__doc__ = op.doc
        return queue
    namespace = {"ServerDownError": ServerDownError}
    return define(op, name, _QUEUE_PREFIX if op.prefix else _QUEUE_KEY,  # type: ignore[no-any-return]
                  namespace, "HashPipeline")


for _op in OPERATIONS:
    for _name in (_op.name,) + _op.aliases:
        setattr(HashPipeline, _name, _make_queuer(_op, _name))
del _op, _name
