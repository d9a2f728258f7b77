from ..exceptions import LockedError, NaNError, NoMemoryError, PyGibsonError, ServerError
from ..exceptions import ProtocolError as ProtocolError

__all__ = ["GibsonError", "ProtocolError", "ReplyError", "GibsonServerError",
           "ExpectedANumber", "MemoryLimitError", "KeyLockedError"]

GibsonError = PyGibsonError
ReplyError = ServerError
GibsonServerError = ServerError
ExpectedANumber = NaNError
MemoryLimitError = NoMemoryError
KeyLockedError = LockedError
