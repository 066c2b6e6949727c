"""Writes for accounts: namespaces, users, robots, app tokens, and credential checks."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.credential_epochs import credentials_changed
from accounts.models import AppToken, BannerMessage, Namespace, Robot, User
from accounts.principals import Principal
from accounts.secrets import PREFIX_LENGTH, token_matches, token_new
from accounts.signals import namespace_deleting
from common.errors import ConflictError, InvalidRequestError, NotFoundError, RegistryError

# A namespace is one component of a repository name (the spec's grammar), at most 255 chars.
NAMESPACE_RE = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*\Z")
ROBOT_SHORTNAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}\Z")
#: last-used times are written at most this often, so a busy token costs no write per request
LAST_USED_RESOLUTION = timedelta(seconds=60)


class NameTakenError(RegistryError):
    code, http_status, default_message = "NAME_TAKEN", 409, "that name is already taken"


def validate_namespace_name(name: str) -> str:
    if not name or len(name) > 255 or not NAMESPACE_RE.match(name):
        raise InvalidRequestError(
            "names are lowercase letters and digits, optionally separated by '.', '_', '__' or '-'", detail={"name": name[:100]}
        )
    return name


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


def namespace_create(*, name: str, kind: str) -> Namespace:
    """A new namespace; NAME_TAKEN when a user or organization already has the name."""
    validate_namespace_name(name)
    try:
        with transaction.atomic():
            return Namespace.objects.create(name=name, kind=kind)
    except IntegrityError:
        raise NameTakenError(detail={"name": name}) from None


def user_create(*, username: str, password: str | None, email: str = "", is_superuser: bool = False, is_readonly_superuser: bool = False) -> User:
    """A user and their personal namespace. ``password=None`` leaves the account without one.

    Raises:
        InvalidRequestError: a name outside the namespace grammar or longer than a user name may be.
        NameTakenError: a user or organization already has the name.
    """
    max_length = User._meta.get_field("username").max_length or 150
    if len(username) > max_length:
        raise InvalidRequestError(f"user names are at most {max_length} characters", detail={"name": username[:100]})
    with transaction.atomic():
        namespace = namespace_create(name=username, kind=Namespace.Kind.USER)
        user = User(
            username=username, email=email, namespace=namespace, is_superuser=is_superuser,
            is_staff=is_superuser or is_readonly_superuser,  # both may enter the admin console
            is_global_readonly_superuser=is_readonly_superuser,
        )
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    return user


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
    user = user_create(username=username, password=password, email=email, is_superuser=True)
    return user, generated


@dataclass(frozen=True)
class RobotWithToken:
    robot: Robot
    token: str  # shown once


def robot_create(
    *, namespace: Namespace, shortname: str, description: str = "", token: str | None = None, unstructured_metadata: dict | None = None
) -> RobotWithToken:
    """A robot ``<namespace>+<shortname>``; ``token`` may be supplied (migrations), else generated."""
    if not ROBOT_SHORTNAME_RE.match(shortname):
        raise InvalidRequestError(
            "robot names start with a letter and use lowercase letters, digits and '_' (2-64 characters)", detail={"name": shortname[:80]}
        )
    if token is not None and len(token) < PREFIX_LENGTH + 16:
        raise InvalidRequestError(f"a supplied robot token must be at least {PREFIX_LENGTH + 16} characters")
    new = token_new(token)
    try:
        with transaction.atomic():
            robot = Robot.objects.create(
                namespace=namespace, shortname=shortname, description=description, token_prefix=new.prefix, token_hash=new.hash,
                unstructured_metadata=unstructured_metadata or {},
            )
    except IntegrityError:
        raise NameTakenError(f"robot {namespace.name}+{shortname} exists (or its token prefix is in use)") from None
    return RobotWithToken(robot=robot, token=new.token)


def robot_regenerate_token(*, robot: Robot) -> RobotWithToken:
    new = token_new()
    Robot.objects.filter(pk=robot.pk).update(token_prefix=new.prefix, token_hash=new.hash)
    robot.token_prefix, robot.token_hash = new.prefix, new.hash
    credentials_changed("robot", robot.pk)
    return RobotWithToken(robot=robot, token=new.token)


def robot_delete(*, robot: Robot) -> None:
    """Delete a robot with its team memberships and repository permissions; its token stops working."""
    credentials_changed("robot", robot.pk)
    robot.delete()


@dataclass(frozen=True)
class AppTokenWithSecret:
    app_token: AppToken
    token: str  # shown once


def app_token_create(*, user: User, title: str, expires_at: datetime | None = None) -> AppTokenWithSecret:
    new = token_new()
    app_token = AppToken.objects.create(
        uuid=uuid.uuid4(), user=user, title=title[:255], token_prefix=new.prefix, token_hash=new.hash, expires_at=expires_at
    )
    return AppTokenWithSecret(app_token=app_token, token=new.token)


def app_token_revoke(*, app_token: AppToken) -> None:
    credentials_changed("user", app_token.user_id)
    app_token.delete()


def principal_for_user(user: User, via: str) -> Principal:
    return Principal(
        kind="user",
        id=user.pk,
        name=user.username,
        is_superuser=user.is_superuser,
        is_readonly_superuser=user.is_global_readonly_superuser,
        via=via,
        namespace_id=user.namespace_id,
    )


def principal_for_robot(robot: Robot) -> Principal:
    return Principal(kind="robot", id=robot.pk, name=robot.username, via="robot_token")


def _touch(model: type, pk: int, last_used: datetime | None) -> None:
    now = timezone.now()
    if last_used is None or now - last_used > LAST_USED_RESOLUTION:
        model.objects.filter(pk=pk).update(last_used=now)


def _app_token_user(token: str, username: str | None) -> User | None:
    candidate = AppToken.objects.select_related("user").filter(token_prefix=token[:PREFIX_LENGTH]).first()
    if candidate is None or not token_matches(token, candidate.token_hash):
        return None
    if candidate.expires_at is not None and candidate.expires_at <= timezone.now():
        return None
    if username is not None and candidate.user.username != username:
        return None
    if not candidate.user.is_active:
        return None
    _touch(AppToken, candidate.pk, candidate.last_used)
    return candidate.user


def credentials_verify(*, username: str, password: str) -> Principal | None:
    """Check a user name and secret: a password, an app token (with the user's name or ``$app``),
    or a robot token (``namespace+robot``). None when they do not match."""
    if not username or not password or len(username) > 300 or len(password) > 1024:
        return None
    if username == "$app":
        user = _app_token_user(password, None)
        return principal_for_user(user, "app_token") if user else None
    if "+" in username:
        namespace_name, _, shortname = username.partition("+")
        robot = Robot.objects.select_related("namespace").filter(namespace__name=namespace_name, shortname=shortname).first()
        if robot is None or not token_matches(password, robot.token_hash):
            return None
        _touch(Robot, robot.pk, robot.last_used)
        return principal_for_robot(robot)
    user = User.objects.filter(username=username).first()
    if user is None or not user.is_active:
        User().set_password(password)  # same work as a real check: no user-enumeration by timing
        return None
    if len(password) == PREFIX_LENGTH + 32 and AppToken.objects.filter(token_prefix=password[:PREFIX_LENGTH]).exists():
        token_user = _app_token_user(password, username)
        return principal_for_user(token_user, "app_token") if token_user else None
    if not user.check_password(password):
        return None
    return principal_for_user(user, "password")


def principal_reload(principal: Principal) -> Principal | None:
    """The principal as the database sees it now (None when deleted or disabled)."""
    if principal.kind == "user":
        user = User.objects.filter(pk=principal.id, is_active=True).first()
        return principal_for_user(user, principal.via) if user else None
    if principal.kind == "robot":
        robot = Robot.objects.select_related("namespace").filter(pk=principal.id).first()
        return principal_for_robot(robot) if robot else None
    return principal


def user_update(*, user: User, email: str | None = None, password: str | None = None, tag_expiration_s: int | None = None) -> User:
    """Change a user's e-mail, password or time-machine window (of their namespace)."""
    fields = []
    if email is not None:
        user.email = email
        fields.append("email")
    if password is not None:
        user.set_password(password)
        fields.append("password")
    with transaction.atomic():
        if fields:
            _save_user(user, fields)
        if tag_expiration_s is not None and user.namespace_id:
            Namespace.objects.filter(pk=user.namespace_id).update(tag_expiration_s=tag_expiration_s)
    return user


def _save_user(user: User, fields: list[str]) -> None:
    """Write ``fields`` of ``user``; NOT_FOUND when someone deleted the user meanwhile (a save
    would fail with a database error on a vanished row)."""
    if not User.objects.filter(pk=user.pk).update(**{field: getattr(user, field) for field in fields}):
        raise NotFoundError(f"user {user.username} no longer exists", detail={"username": user.username})
    if set(fields) & {"password", "is_active", "is_superuser", "is_staff", "is_global_readonly_superuser"}:
        credentials_changed("user", user.pk)


def user_set_enabled(*, user: User, enabled: bool) -> User:
    user.is_active = enabled
    _save_user(user, ["is_active"])
    return user


def user_delete(*, user: User) -> None:
    """Delete a user and their namespace. Their repositories disappear with it and are purged in
    the background (``namespace_deleting``); ConflictError if one remained (no receiver)."""
    namespace = user.namespace
    credentials_changed("user", user.pk)
    with transaction.atomic():
        if namespace is not None:
            namespace_deleting.send(sender=User, namespace=namespace)
            if namespace.repositories.exists():
                raise ConflictError(
                    "the user's namespace still has repositories; delete them first", detail={"namespace": namespace.name}
                )
        user.delete()
        if namespace is not None:
            namespace.delete()


def password_generate() -> str:
    """A random password for an account a superuser creates without choosing one (shown once)."""
    return secrets.token_urlsafe(18)


@dataclass(frozen=True)
class UserWithPassword:
    user: User
    #: the generated password, shown once; None when the caller chose the password
    generated_password: str | None


def user_create_with_password(*, username: str, email: str = "", password: str | None = None) -> UserWithPassword:
    """A user with ``password``, or with a generated one returned once (Quay's superuser "create user").

    Raises:
        InvalidRequestError, NameTakenError: as ``user_create``.
    """
    generated = None if password else password_generate()
    user = user_create(username=username, password=password or generated, email=email)
    return UserWithPassword(user=user, generated_password=generated)


def user_set_superuser(*, user: User, is_superuser: bool) -> User:
    """Grant or revoke superuser rights (and the Django admin that goes with them)."""
    user.is_superuser = is_superuser
    user.is_staff = is_superuser or user.is_global_readonly_superuser
    _save_user(user, ["is_superuser", "is_staff"])
    return user


#: what a banner message's content may be (Quay's global message media types)
BANNER_MEDIA_TYPES = ("text/plain", "text/markdown")


def banner_message_create(*, content: str, media_type: str = "text/markdown", severity: str = BannerMessage.Severity.INFO) -> BannerMessage:
    """A registry-wide banner message shown to every user.

    Raises:
        InvalidRequestError: empty content, or an unknown media type or severity.
    """
    if not content.strip():
        raise InvalidRequestError("a message needs content")
    if media_type not in BANNER_MEDIA_TYPES:
        raise InvalidRequestError(f"media_type must be one of {', '.join(BANNER_MEDIA_TYPES)}", detail={"media_type": media_type[:64]})
    if severity not in BannerMessage.Severity.values:
        raise InvalidRequestError(f"severity must be one of {', '.join(BannerMessage.Severity.values)}", detail={"severity": severity[:64]})
    return BannerMessage.objects.create(uuid=uuid.uuid4(), content=content, media_type=media_type, severity=severity)


def banner_message_delete(*, message: BannerMessage) -> None:
    message.delete()
