"""With pushes disabled registry-wide, a request for ``*`` is granted only its allowed parts."""

import pytest

from accounts.services import principal_for_user, user_create
from oci.views.token import Scope, _granted_actions
from repositories.services.repositories import repository_get_or_create

pytestmark = pytest.mark.django_db


def test_a_star_scope_is_split_when_pushes_are_disabled(settings):
    owner = user_create(username="owner", password="owner-pass-123")
    principal = principal_for_user(owner, "password")
    repository_get_or_create(name="owner/app", creator=principal)
    scope = Scope("repository", "owner/app", ("*",))
    assert _granted_actions(principal, scope) == ["*"]

    settings.MOORAGE_REGISTRY = {**settings.MOORAGE_REGISTRY, "pushes_disabled": True}

    assert _granted_actions(principal, scope) == ["pull", "delete"]
