from ..exceptions import LockedError, NaNError, NoMemoryError, PyGibsonError, ServerError
from ..exceptions import ProtocolError as ProtocolError

GibsonError = PyGibsonError
ReplyError = ServerError
GibsonServerError = ServerError
ExpectedANumber = NaNError
MemoryLimitError = NoMemoryError
KeyLockedError = LockedError
