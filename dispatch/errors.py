"""One family of domain errors, mapped to HTTP by one exception handler."""

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ApplicationError(Exception):
    status_code = status.HTTP_409_CONFLICT

    def __init__(self, detail):
        super().__init__(detail)
        self.detail = detail


class TransitionNotAllowed(ApplicationError):
    """The state machine forbids the move."""


class UnitBusy(ApplicationError):
    """The unit cannot take this assignment now."""


class InvalidOperation(ApplicationError):
    """The request is well-formed but contradicts the current state."""


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.detail}, status=exc.status_code)
    return drf_exception_handler(exc, context)
