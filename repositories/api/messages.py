"""Registry-wide banner messages (Quay's ``globalmessages.py``): everyone may read them, even
without signing in; superusers post and delete them."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import IsSuperuser
from accounts.models import BannerMessage
from accounts.services import BANNER_MEDIA_TYPES, banner_message_create, banner_message_delete
from common import serializers
from repositories.api.superuser import audit


def message_view(message: BannerMessage) -> dict[str, Any]:
    return {"uuid": str(message.uuid), "content": message.content, "media_type": message.media_type, "severity": message.severity}


class MessageSerializer(serializers.Serializer):
    content = serializers.CharField(max_length=65536)
    media_type = serializers.ChoiceField(choices=list(BANNER_MEDIA_TYPES), default="text/markdown")
    severity = serializers.ChoiceField(choices=BannerMessage.Severity.values, default=BannerMessage.Severity.INFO)


class MessageCreateSerializer(serializers.Serializer):
    message = MessageSerializer()


_Message = inline_serializer(
    "BannerMessage",
    {
        "uuid": serializers.UUIDField(),
        "content": serializers.CharField(),
        "media_type": serializers.CharField(help_text="text/plain or text/markdown"),  # one enum component only: no name clash with labels
        "severity": serializers.ChoiceField(choices=BannerMessage.Severity.values),
    },
)


class MessageListView(APIView):
    parser_classes = [JSONParser]  # the body nests an object, which a form cannot express

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsSuperuser()]

    @extend_schema(
        operation_id="getGlobalMessages",
        responses=inline_serializer("BannerMessageList", {"messages": serializers.ListField(child=_Message)}),
        summary="The registry's banner messages (no sign-in needed)",
        auth=[{}, {"bearerAuth": []}, {"cookieAuth": []}],
    )
    def get(self, request: Request) -> Response:
        messages = BannerMessage.objects.order_by("-created", "-id")
        return Response({"messages": [message_view(message) for message in messages]})

    @extend_schema(
        operation_id="createGlobalMessage",
        request=MessageCreateSerializer,
        responses={201: inline_serializer("BannerMessageCreated", {"message": _Message})},
        summary="Post a banner message (superusers)",
    )
    def post(self, request: Request) -> Response:
        data = MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data["message"]
        with transaction.atomic():
            message = banner_message_create(content=values["content"], media_type=values["media_type"], severity=values["severity"])
            audit(request, "create_message", metadata={"uuid": str(message.uuid), "severity": message.severity})
        return Response({"message": message_view(message)}, status=status.HTTP_201_CREATED)


class MessageView(APIView):
    permission_classes = [IsSuperuser]

    @extend_schema(operation_id="deleteGlobalMessage", responses={204: OpenApiResponse(description="deleted")}, summary="Delete a banner message (superusers)")
    def delete(self, request: Request, message_uuid: str) -> Response:
        message = BannerMessage.objects.filter(uuid=message_uuid).first()
        if message is None:
            raise NotFound("message not found")
        with transaction.atomic():
            banner_message_delete(message=message)
            audit(request, "delete_message", metadata={"uuid": str(message_uuid)})
        return Response(status=status.HTTP_204_NO_CONTENT)
