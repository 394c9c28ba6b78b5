"""The browser pages: the operator console and the supervisors' pages (served by Django)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from .access import is_operator, is_supervisor


@login_required
def console(request):
    if not is_operator(request.user):
        raise PermissionDenied
    return render(request, "console.html")


@login_required
def supervisor(request):
    if not is_supervisor(request.user):
        raise PermissionDenied
    return render(request, "supervisor.html")
