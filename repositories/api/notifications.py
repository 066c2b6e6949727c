"""Notifications API (Quay's ``repositorynotification.py``, ``namespacenotification.py`` and the
in-app inbox of ``user.py``).

``/repository/<repo>/notification/...`` needs the admin role on the repository;
``/organization/<org>/notifications/...`` an organization administrator (global read-only
superusers may read); ``/user/namespacenotifications/...`` and ``/user/notifications/...`` act on
the signed-in user's own namespace and inbox.
"""

from __future__ import annotations

import uuid as uuid_module
from typing import Any

from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from accounts.api.permissions import IsUser
from accounts.models import Namespace
from common import serializers
from organizations.models import Team
from repositories.access import Action
from repositories.api.organizations.common import org_caller, require_org_admin
from repositories.api.repos_common import format_date, repository_for_management, request_info
from repositories.api.repositories import REPO_PATH
from repositories.api.robots import user_namespace
from repositories.models import Repository
from repositories.models.notifications import NamespaceNotification, NotificationEvent, NotificationMethod, RepositoryNotification, UserNotification
from repositories.services.notifications import (
    Notification,
    namespace_notification_create,
    notification_delete,
    notification_reset,
    notification_test,
    repository_notification_create,
    user_notification_set_dismissed,
)

UUID_PATH = OpenApiParameter("uuid", OpenApiTypes.STR, OpenApiParameter.PATH, description="The UUID of the notification")
ORGNAME = OpenApiParameter("orgname", OpenApiTypes.STR, OpenApiParameter.PATH, description="The name of the organization")
_NO_CONTENT = {204: OpenApiResponse(description="done; no body")}
_TEST_QUEUED = {200: OpenApiResponse(OpenApiTypes.OBJECT, description="a delivery of the event's sample data was queued (empty object)")}


# --- serializers ------------------------------------------------------------------------------


class NotificationCreateSerializer(serializers.Serializer):
    event = serializers.CharField(max_length=64, help_text=f"The event: {', '.join(NotificationEvent.values)}")
    method = serializers.CharField(max_length=32, help_text=f"The method: {', '.join(NotificationMethod.values)}")
    config = serializers.DictField(
        help_text="The method's settings: webhook {url, secret?, template?}, slack {url}, email {email}, "
        "quay_notification {target: {kind: user|team|org, name}}"
    )
    eventConfig = serializers.DictField(required=False, default=dict, help_text="The event's settings: repo_image_expiry {days}, vulnerability_found {level}")  # noqa: N815 - Quay's name
    title = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255, default="")


class NotificationSerializer(serializers.Serializer):
    uuid = serializers.CharField()
    title = serializers.CharField(allow_blank=True)
    event = serializers.CharField()
    method = serializers.CharField()
    config = serializers.DictField(help_text="The method's settings (a webhook secret is never shown)")
    event_config = serializers.DictField()
    number_of_failures = serializers.IntegerField()
    enabled = serializers.BooleanField(help_text="False once the notification disabled itself after repeated failures")


class NotificationListSerializer(serializers.Serializer):
    notifications = NotificationSerializer(many=True)


class UserNotificationSerializer(serializers.Serializer):
    id = serializers.CharField()
    organization = serializers.CharField(allow_null=True)
    kind = serializers.CharField()
    created = serializers.CharField()
    metadata = serializers.DictField()
    dismissed = serializers.BooleanField()


class UserNotificationListSerializer(serializers.Serializer):
    notifications = UserNotificationSerializer(many=True)
    additional = serializers.BooleanField(help_text="More notifications follow on the next page")


class DismissSerializer(serializers.Serializer):
    dismissed = serializers.BooleanField()


_CREATE_EXAMPLE = OpenApiExample(
    "A signed webhook on push",
    value={"event": "repo_push", "method": "webhook", "config": {"url": "https://ci.example.com/hook", "secret": "s3cret"}, "eventConfig": {}, "title": "CI"},
    request_only=True,
)


def notification_body(notification: Notification) -> dict[str, Any]:
    config = dict(notification.config)
    if notification.secret:
        config["secret"] = "********"
    return {
        "uuid": str(notification.uuid),
        "title": notification.title,
        "event": notification.event,
        "method": notification.method,
        "config": config,
        "event_config": notification.event_config,
        "number_of_failures": notification.number_of_failures,
        "enabled": notification.enabled,
    }


def _uuid(value: str) -> uuid_module.UUID:
    try:
        return uuid_module.UUID(value)
    except ValueError:
        raise NotFound(f"no notification {value}") from None


def _create_arguments(request: Request) -> dict[str, Any]:
    serializer = NotificationCreateSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    return {
        "event": data["event"], "method": data["method"], "config": data["config"], "event_config": data.get("eventConfig") or {},
        "title": data.get("title") or "", "actor": principal_of(request), "request": request_info(request),
    }


def _test(notification: Notification) -> Response:
    notification_test(notification=notification)
    return Response({}, status=status.HTTP_200_OK)


# --- repository notifications -----------------------------------------------------------------


def _repository(request: Request, repository: str) -> Repository:
    return repository_for_management(request, repository, Action.ADMIN)


def _repository_notification(repository: Repository, uuid: str) -> RepositoryNotification:
    found = RepositoryNotification.objects.select_related("repository__namespace").filter(repository=repository, uuid=_uuid(uuid)).first()
    if found is None:
        raise NotFound(f"no notification {uuid} in repository {repository.full_name}")
    return found


class RepositoryNotificationListView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="listRepoNotifications", summary="The repository's notifications (admin)", parameters=[REPO_PATH], responses=NotificationListSerializer)
    def get(self, request: Request, repository: str) -> Response:
        repo = _repository(request, repository)
        notifications = RepositoryNotification.objects.filter(repository=repo).order_by("created", "id")
        return Response({"notifications": [notification_body(n) for n in notifications]})

    @extend_schema(
        operation_id="createRepoNotification", summary="Add a notification to the repository (admin)", parameters=[REPO_PATH],
        request=NotificationCreateSerializer, responses={201: NotificationSerializer}, examples=[_CREATE_EXAMPLE],
    )
    def post(self, request: Request, repository: str) -> Response:
        repo = _repository(request, repository)
        notification = repository_notification_create(repository=repo, **_create_arguments(request))
        return Response(notification_body(notification), status=status.HTTP_201_CREATED)


class RepositoryNotificationView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="getRepoNotification", summary="One notification of the repository (admin)", parameters=[REPO_PATH, UUID_PATH], responses=NotificationSerializer)
    def get(self, request: Request, repository: str, uuid: str) -> Response:
        return Response(notification_body(_repository_notification(_repository(request, repository), uuid)))

    @extend_schema(operation_id="deleteRepoNotification", summary="Delete a notification (admin)", parameters=[REPO_PATH, UUID_PATH], responses=_NO_CONTENT)
    def delete(self, request: Request, repository: str, uuid: str) -> Response:
        notification = _repository_notification(_repository(request, repository), uuid)
        notification_delete(notification=notification, actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="resetRepositoryNotificationFailures", summary="Reset the failure count and re-enable the notification (admin)",
        parameters=[REPO_PATH, UUID_PATH], request=None, responses=_NO_CONTENT,
    )
    def post(self, request: Request, repository: str, uuid: str) -> Response:
        notification = _repository_notification(_repository(request, repository), uuid)
        notification_reset(notification=notification, actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RepositoryNotificationTestView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="testRepoNotification", summary="Queue a delivery of sample data through the notification (admin)",
        parameters=[REPO_PATH, UUID_PATH], request=None, responses=_TEST_QUEUED,
    )
    def post(self, request: Request, repository: str, uuid: str) -> Response:
        return _test(_repository_notification(_repository(request, repository), uuid))


# --- namespace notifications ------------------------------------------------------------------


def _namespace_notification(namespace: Namespace, uuid: str) -> NamespaceNotification:
    found = NamespaceNotification.objects.select_related("namespace").filter(namespace=namespace, uuid=_uuid(uuid)).first()
    if found is None:
        raise NotFound(f"no notification {uuid} in namespace {namespace.name}")
    return found


def _org_namespace(request: Request, orgname: str, *, write: bool) -> Namespace:
    caller = org_caller(request, orgname)
    require_org_admin(caller, write=write)
    return caller.organization.namespace


class OrgNotificationListView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="listOrgNotifications", summary="The organization's namespace notifications (org admin)", parameters=[ORGNAME], responses=NotificationListSerializer)
    def get(self, request: Request, orgname: str) -> Response:
        namespace = _org_namespace(request, orgname, write=False)
        return Response({"notifications": [notification_body(n) for n in NamespaceNotification.objects.filter(namespace=namespace).select_related("namespace")]})

    @extend_schema(
        operation_id="createOrgNotification", summary="Add a namespace notification: quota_warning or quota_error (org admin)",
        parameters=[ORGNAME], request=NotificationCreateSerializer, responses={201: NotificationSerializer},
    )
    def post(self, request: Request, orgname: str) -> Response:
        namespace = _org_namespace(request, orgname, write=True)
        notification = namespace_notification_create(namespace=namespace, **_create_arguments(request))
        return Response(notification_body(notification), status=status.HTTP_201_CREATED)


class OrgNotificationView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="getOrgNotification", summary="One namespace notification (org admin)", parameters=[ORGNAME, UUID_PATH], responses=NotificationSerializer)
    def get(self, request: Request, orgname: str, uuid: str) -> Response:
        return Response(notification_body(_namespace_notification(_org_namespace(request, orgname, write=False), uuid)))

    @extend_schema(operation_id="deleteOrgNotification", summary="Delete a namespace notification (org admin)", parameters=[ORGNAME, UUID_PATH], responses=_NO_CONTENT)
    def delete(self, request: Request, orgname: str, uuid: str) -> Response:
        notification = _namespace_notification(_org_namespace(request, orgname, write=True), uuid)
        notification_delete(notification=notification, actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="resetOrgNotificationFailures", summary="Reset the failure count and re-enable (org admin)",
        parameters=[ORGNAME, UUID_PATH], request=None, responses=_NO_CONTENT,
    )
    def post(self, request: Request, orgname: str, uuid: str) -> Response:
        notification = _namespace_notification(_org_namespace(request, orgname, write=True), uuid)
        notification_reset(notification=notification, actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrgNotificationTestView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="testOrgNotification", summary="Queue a test delivery (org admin)", parameters=[ORGNAME, UUID_PATH], request=None, responses=_TEST_QUEUED)
    def post(self, request: Request, orgname: str, uuid: str) -> Response:
        return _test(_namespace_notification(_org_namespace(request, orgname, write=True), uuid))


class UserNamespaceNotificationListView(APIView):
    permission_classes = [IsUser]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="listUserNamespaceNotifications", summary="Your namespace's notifications", responses=NotificationListSerializer)
    def get(self, request: Request) -> Response:
        namespace = user_namespace(request)
        return Response({"notifications": [notification_body(n) for n in NamespaceNotification.objects.filter(namespace=namespace).select_related("namespace")]})

    @extend_schema(
        operation_id="createUserNamespaceNotification", summary="Add a notification to your namespace (quota_warning, quota_error)",
        request=NotificationCreateSerializer, responses={201: NotificationSerializer},
    )
    def post(self, request: Request) -> Response:
        notification = namespace_notification_create(namespace=user_namespace(request), **_create_arguments(request))
        return Response(notification_body(notification), status=status.HTTP_201_CREATED)


class UserNamespaceNotificationView(APIView):
    permission_classes = [IsUser]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="getUserNamespaceNotification", summary="One of your namespace's notifications", parameters=[UUID_PATH], responses=NotificationSerializer)
    def get(self, request: Request, uuid: str) -> Response:
        return Response(notification_body(_namespace_notification(user_namespace(request), uuid)))

    @extend_schema(operation_id="deleteUserNamespaceNotification", summary="Delete one of your namespace's notifications", parameters=[UUID_PATH], responses=_NO_CONTENT)
    def delete(self, request: Request, uuid: str) -> Response:
        notification = _namespace_notification(user_namespace(request), uuid)
        notification_delete(notification=notification, actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="resetUserNamespaceNotificationFailures", summary="Reset the failure count and re-enable", parameters=[UUID_PATH],
        request=None, responses=_NO_CONTENT,
    )
    def post(self, request: Request, uuid: str) -> Response:
        notification = _namespace_notification(user_namespace(request), uuid)
        notification_reset(notification=notification, actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserNamespaceNotificationTestView(APIView):
    permission_classes = [IsUser]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="testUserNamespaceNotification", summary="Queue a test delivery", parameters=[UUID_PATH], request=None, responses=_TEST_QUEUED)
    def post(self, request: Request, uuid: str) -> Response:
        return _test(_namespace_notification(user_namespace(request), uuid))


# --- the in-app inbox -------------------------------------------------------------------------


def _inbox(request: Request) -> Any:
    """The caller's in-app notifications: their own and those of organizations they administer."""
    user_id = principal_of(request).user_id
    admin_of = Team.objects.filter(role=Team.TeamRole.ADMIN, members__user_id=user_id).values("organization__namespace_id")
    return UserNotification.objects.filter(Q(target_user_id=user_id) | Q(target_namespace_id__in=admin_of)).select_related("target_namespace")


def user_notification_body(note: UserNotification) -> dict[str, Any]:
    return {
        "id": str(note.uuid),
        "organization": note.target_namespace.name if note.target_namespace_id else None,
        "kind": note.kind,
        "created": format_date(note.created),
        "metadata": note.metadata,
        "dismissed": note.dismissed,
    }


def _positive(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise serializers.ValidationError({name: "must be a whole number"}) from None
    if not 1 <= value <= maximum:
        raise serializers.ValidationError({name: f"must be between 1 and {maximum}"})
    return value


class UserNotificationListView(APIView):
    permission_classes = [IsUser]

    @extend_schema(
        operation_id="listUserNotifications", summary="Your in-app notifications that are not dismissed, newest first",
        parameters=[
            OpenApiParameter("page", {"type": "integer", "minimum": 1, "maximum": 100000}, description="Page number, from 1"),
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 100}, description="Notifications per page (default 5, at most 100)"),
        ],
        responses=UserNotificationListSerializer,
    )
    def get(self, request: Request) -> Response:
        page = _positive(request, "page", 1, 100000)
        limit = _positive(request, "limit", 5, 100)
        start = (page - 1) * limit
        notes = list(_inbox(request).filter(dismissed=False).order_by("-created", "-id")[start:start + limit + 1])
        return Response({"notifications": [user_notification_body(n) for n in notes[:limit]], "additional": len(notes) > limit})


class UserNotificationView(APIView):
    permission_classes = [IsUser]
    parser_classes = [JSONParser]

    def _note(self, request: Request, uuid: str) -> UserNotification:
        found = _inbox(request).filter(uuid=_uuid(uuid)).first()
        if found is None:
            raise NotFound(f"no notification {uuid}")
        return found

    @extend_schema(operation_id="getUserNotification", summary="One of your in-app notifications", parameters=[UUID_PATH], responses=UserNotificationSerializer)
    def get(self, request: Request, uuid: str) -> Response:
        return Response(user_notification_body(self._note(request, uuid)))

    @extend_schema(
        operation_id="updateUserNotification", summary="Dismiss (or restore) an in-app notification", parameters=[UUID_PATH],
        request=DismissSerializer, responses=UserNotificationSerializer,
    )
    def put(self, request: Request, uuid: str) -> Response:
        note = self._note(request, uuid)
        serializer = DismissSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(user_notification_body(user_notification_set_dismissed(notification=note, dismissed=serializer.validated_data["dismissed"])))
