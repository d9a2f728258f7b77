"""``HashPipeline``: a pipeline over several servers.

Each queued call goes into a pipeline of its own server's client (a call
that spans servers goes into every one of them); ``execute()`` runs the
servers' pipelines at once and puts the results back in the order of the
calls, merging the parts of the spanning ones.
"""

import functools
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, Union

from ._operations import OPERATIONS, Operation
from ._shard import Shard, is_failure, limit_argument, merge, method_signature
from .exceptions import PartialFailureError, ServerDownError

if TYPE_CHECKING:
    from .hash import HashClient, Key, Value

__all__ = ["HashPipeline"]

#: Where a call's result comes from: per server, its position in that
#: server's pipeline, or the exception already known (a dead server).
Part = Tuple[Shard, Union[int, BaseException]]
#: A queued call: its result kind when it spans servers (None: one key),
#: mget's limit, and its parts.
Slot = Tuple[Optional[str], Optional[int], List[Part]]


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

    def __init__(self, client: "HashClient"):
        self._client = client
        self._groups: Dict[int, List[Any]] = {}  # shard index -> [shard, pipeline, size]
        self._slots: List[Slot] = []

    def reset(self) -> None:
        """Forget the queued calls."""
        self._groups = {}
        self._slots = []

    def __len__(self) -> int:
        return len(self._slots)

    def __bool__(self) -> bool:
        return True

    def __enter__(self) -> "HashPipeline":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.reset()

    def _queue(self, shard: Shard, name: str, args: Tuple[Any, ...],
               kwargs: Dict[str, Any]) -> int:
        """Queue a call on the shard's pipeline; its position there."""
        group = self._groups.get(shard.index)
        if group is None:
            group = [shard, shard.client.pipeline(), 0]
        # Queued first, counted after: a call the pipeline refuses (a bad
        # argument) raises here and leaves no trace.
        getattr(group[1], name)(*args, **kwargs)
        self._groups[shard.index] = group
        group[2] += 1
        return group[2] - 1

    def _queue_key(self, name: str, key: Any, args: Tuple[Any, ...],
                   kwargs: Dict[str, Any]) -> "HashPipeline":
        client = self._client
        try:
            shard = client._place(key)
        except ServerDownError as error:
            part: Part = (client._owner(key), error)
        else:
            part = (shard, self._queue(shard, name, (key,) + args, kwargs))
        self._slots.append((None, None, [part]))
        return self

    def _queue_all(self, kind: str, name: str, args: Tuple[Any, ...], kwargs: Dict[str, Any],
                   limit: Optional[int], probe_dead: bool) -> "HashPipeline":
        targets, down = self._client._targets(probe_dead)
        parts: List[Part] = [(shard, self._queue(shard, name, args, kwargs))
                             for shard in targets]
        parts.extend(down)
        self._slots.append((kind, limit, parts))
        return self

    def _run_group(self, shard: Shard, pipeline: Any) -> Any:
        try:
            results = pipeline.execute(raise_on_error=False)
        except Exception as error:  # the group's calls all get it
            self._client._failed(shard, error)
            return error
        if shard.failures:
            self._client._succeeded(shard)
        return results

    def execute(self, raise_on_error: bool = True) -> List[Any]:
        """Run the queued calls and return their results in order."""
        client = self._client
        groups, slots = list(self._groups.values()), self._slots
        self.reset()
        jobs = [functools.partial(self._run_group, shard, pipeline)
                for shard, pipeline, _ in groups]
        outcomes = client._runner.run(jobs) if jobs else []
        by_shard = {group[0].index: outcome for group, outcome in zip(groups, outcomes)}
        failed: Dict[str, BaseException] = {}
        for group, outcome in zip(groups, outcomes):
            if isinstance(outcome, BaseException) and is_failure(outcome):
                failed[group[0].label] = outcome
        results: List[Any] = []
        for kind, limit, parts in slots:
            resolved = []
            for shard, part in parts:
                if isinstance(part, BaseException):
                    failed.setdefault(shard.label, part)
                    resolved.append((shard, part))
                else:
                    outcome = by_shard[shard.index]
                    resolved.append((shard, outcome if isinstance(outcome, BaseException)
                                     else outcome[part]))
            if kind is None:
                results.append(resolved[0][1])
            else:
                results.append(merge(kind, resolved, limit, client._owner, client.ignore_exc,
                                     "the pipeline"))
        if failed and not client.ignore_exc:
            error = PartialFailureError.for_servers(results, failed, "the pipeline")
            error.results = results
            raise error
        if raise_on_error:
            for result in results:
                if isinstance(result, BaseException) and not is_failure(result):
                    result.results = results  # type: ignore[attr-defined]
                    raise result
        return results

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


def _make_queuer(op: Operation, name: str) -> Callable[..., HashPipeline]:
    queue: Callable[..., HashPipeline]
    if op.prefix:
        def queue_prefix(self: HashPipeline, *args: Any, **kwargs: Any) -> HashPipeline:
            return self._queue_all(op.result, name, args, kwargs,
                                   limit_argument(op, args, kwargs), False)
        queue = queue_prefix
    elif not op.params:
        kind = "stats" if op.name == "stats" else "none"
        probe_dead = op.name != "quit"

        def queue_every(self: HashPipeline) -> HashPipeline:
            return self._queue_all(kind, name, (), {}, None, probe_dead)
        queue = queue_every
    else:
        def queue_key(self: HashPipeline, key: Any, *args: Any, **kwargs: Any) -> HashPipeline:
            return self._queue_key(name, key, args, kwargs)
        queue = queue_key
    queue.__name__ = name
    queue.__qualname__ = "HashPipeline." + name
    queue.__doc__ = op.doc
    setattr(queue, "__signature__", method_signature(op))
    return queue


for _op in OPERATIONS:
    for _name in (_op.name,) + _op.aliases:
        setattr(HashPipeline, _name, _make_queuer(_op, _name))
del _op, _name
