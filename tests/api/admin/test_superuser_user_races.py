"""A user deleted while a superuser changes them answers 404, never a 500 (found by schemathesis
on PostgreSQL, where its workers raced a DELETE against a PUT of the same user)."""

import pytest

from accounts.models import User
from accounts.services import user_create, user_set_enabled, user_update
from common.errors import NotFoundError

pytestmark = pytest.mark.django_db


def test_changing_a_user_that_was_deleted_meanwhile_is_not_found():
    user = user_create(username="gone", password="correct-horse-battery")
    User.objects.filter(pk=user.pk).delete()

    with pytest.raises(NotFoundError):
        user_update(user=user, email="new@example.com")
    with pytest.raises(NotFoundError):
        user_set_enabled(user=user, enabled=False)
