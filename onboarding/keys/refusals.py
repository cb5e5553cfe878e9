"""Why a key operation was refused: a sentence for the person, and the form field it belongs to."""

from ..errors import OperationRefused


class KeyRefused(OperationRefused):
    code = "key_refused"
