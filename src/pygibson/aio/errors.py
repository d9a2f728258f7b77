"""aiogibson's exception names, as aliases of pygibson's own, so that
``except aiogibson.KeyLockedError`` keeps working after the switch and
catches exactly what it meant."""

from ..exceptions import LockedError, NaNError, NoMemoryError, ProtocolError, PyGibsonError
from ..exceptions import ServerError

__all__ = ["GibsonError", "ProtocolError", "ReplyError", "GibsonServerError",
           "ExpectedANumber", "MemoryLimitError", "KeyLockedError"]

GibsonError = PyGibsonError
#: aiogibson defined it for failed queries and never raised it; the server's
#: refusals are what it stood for.
ReplyError = ServerError
#: aiogibson's name for a REPL_ERR reply (not exported there).
GibsonServerError = ServerError
ExpectedANumber = NaNError
MemoryLimitError = NoMemoryError
KeyLockedError = LockedError
