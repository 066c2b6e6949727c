"""Writes for accounts."""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction

from accounts.models import Namespace, User


def namespace_get_or_create(*, name: str, kind: str = Namespace.Kind.ORGANIZATION) -> Namespace:
    """Return the namespace called ``name``, creating it when missing (safe under races)."""
    try:
        return Namespace.objects.get(name=name)
    except Namespace.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return Namespace.objects.create(name=name, kind=kind)
    except IntegrityError:
        return Namespace.objects.get(name=name)


def superuser_ensure(*, username: str, password: str | None, email: str = "") -> tuple[User, str | None]:
    """Create the first superuser if there is none.

    Returns the superuser and the generated password (None when a password was given or a
    superuser already existed).
    """
    existing = User.objects.filter(is_superuser=True).order_by("id").first()
    if existing is not None:
        return existing, None
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(18)
    with transaction.atomic():
        namespace = namespace_get_or_create(name=username, kind=Namespace.Kind.USER)
        user = User.objects.create_superuser(username=username, email=email, password=password, namespace=namespace)
    return user, generated
