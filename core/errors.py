"""One family of domain errors; core.api.exception_handler maps them to HTTP 409."""


class ApplicationError(Exception):
    status_code = 409

    def __init__(self, detail):
        super().__init__(detail)
        self.detail = detail


class TransitionNotAllowed(ApplicationError):
    """The state machine forbids the move."""


class UnitBusy(ApplicationError):
    """The unit cannot take this assignment now."""


class InvalidOperation(ApplicationError):
    """The request is well-formed but contradicts the current state."""
