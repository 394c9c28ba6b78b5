"""Who may do what. Every view names one of these explicitly."""

from rest_framework.permissions import BasePermission

OPERATOR, SUPERVISOR, GATEWAY = "operator", "supervisor", "gateway"
# A partner system that posts alarms (integrations/): a machine account per source.
ALARM_SOURCE = "alarm_source"


def user_roles(user):
    if not user or not user.is_authenticated:
        return set()
    cached = getattr(user, "_dispatch_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._dispatch_roles = cached
    return cached


def is_operator(user):
    """Operators and supervisors work the call queue."""
    return bool(user and user.is_authenticated and (user.is_superuser or user_roles(user) & {OPERATOR, SUPERVISOR}))


def is_supervisor(user):
    return bool(user and user.is_authenticated and (user.is_superuser or SUPERVISOR in user_roles(user)))


def is_gateway(user):
    return bool(user and user.is_authenticated and (user.is_superuser or GATEWAY in user_roles(user)))


def is_alarm_source(user):
    """A registered alarm source's machine account (never a superuser by default: an alarm
    names its source, and only the source's own account may speak for it)."""
    return bool(user and user.is_authenticated and ALARM_SOURCE in user_roles(user))


def responder_unit(user):
    """The unit whose device this user is, or None."""
    if not user or not user.is_authenticated:
        return None
    try:
        return user.unit
    except Exception:  # RelatedObjectDoesNotExist
        return None


class IsOperator(BasePermission):
    message = "Operators and supervisors only."

    def has_permission(self, request, view):
        return is_operator(request.user)


class IsSupervisor(BasePermission):
    message = "Supervisors only."

    def has_permission(self, request, view):
        return is_supervisor(request.user)


class IsGateway(BasePermission):
    message = "The AML gateway only."

    def has_permission(self, request, view):
        return is_gateway(request.user)


class IsAlarmSource(BasePermission):
    message = "Registered alarm sources only."

    def has_permission(self, request, view):
        return is_alarm_source(request.user)


class IsResponder(BasePermission):
    """A unit's device: the user linked to exactly one unit."""

    message = "Unit devices only."

    def has_permission(self, request, view):
        return responder_unit(request.user) is not None
