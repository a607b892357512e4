"""Sign-in: the authentication backend, and django-axes' lockout handler with a limit per lockout.

The backend signs people in as Django's ModelBackend does, notes on the request why a
sign-in failed (for the `login_failed` row), and reads the signed-in user with their
organisation and role group in one query, as every page checks both.
"""

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit, get_lockout_parameters
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Sum

# The request attribute naming why the password check refused a sign-in; absent when the
# check never ran (django-axes refused the locked-out attempt first).
SIGNIN_FAILURE = "auditdesk_signin_failure"


class UserBackend(ModelBackend):
    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        """ModelBackend.authenticate, step for step, noting the failure's reason."""
        model = get_user_model()
        if username is None:
            username = kwargs.get(model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            user = model._default_manager.get_by_natural_key(username)
        except model.DoesNotExist:
            model().set_password(password)  # as long as for a real account (timing)
            failure = "unknown_email"
        else:
            if not user.check_password(password):
                failure = "wrong_password"
            elif not self.user_can_authenticate(user):
                failure = "inactive"
            else:
                return user
        if request is not None:
            setattr(request, SIGNIN_FAILURE, failure)
        return None

    def get_user(self, user_id: Any) -> Any:
        model = get_user_model()
        try:
            user = model._default_manager.select_related("org", "role_group").get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


def _is_address_only(parameter: str | list[str]) -> bool:
    return parameter in ("ip_address", ["ip_address"])


class SignInLockoutHandler(AxesDatabaseHandler):
    """Each lockout of AXES_LOCKOUT_PARAMETERS with its own failure limit.

    axes counts the lockouts separately but holds them all to AXES_FAILURE_LIMIT. Here an
    address alone has SIGNIN_IP_FAILURE_LIMIT (it may try several accounts: an office behind
    one address), every other lockout AXES_FAILURE_LIMIT. `get_failures` answers on
    AXES_FAILURE_LIMIT's scale: it reaches that limit exactly when some lockout reaches its own.
    """

    def get_failures(self, request: Any, credentials: dict | None = None) -> int:
        limit = get_failure_limit(request, credentials)
        parameters = get_lockout_parameters(request, credentials)
        attempts = self.get_user_attempts(request, credentials)
        headroom = min(
            (settings.SIGNIN_IP_FAILURE_LIMIT if _is_address_only(parameter) else limit)
            - (matching.aggregate(total=Sum("failures_since_start"))["total"] or 0)
            for parameter, matching in zip(parameters, attempts, strict=True)
        )
        return max(0, limit - headroom)

    def reset_user_attempts(self, request: Any, credentials: dict | None = None) -> int:
        """On a successful sign-in forget that account's failures from that address only.

        axes would delete every lockout's attempts, the address's failures on other accounts
        too: signing in to one's own account would then reset the limit per address.
        """
        username = get_client_username(request, credentials)
        deleted, _ = AccessAttempt.objects.filter(
            username=username, ip_address=request.axes_ip_address
        ).delete()
        return deleted
