"""``/api/v1/user/apptoken``: a user's app-specific tokens."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import IsUser
from accounts.api.serializers import AppTokenCreateSerializer, AppTokenSerializer
from accounts.models import AppToken
from accounts.services import app_token_create, app_token_revoke
from common import serializers


_AppTokenList = inline_serializer("AppTokenList", {"tokens": AppTokenSerializer(many=True)})
_AppTokenCreated = inline_serializer(
    "AppTokenCreated",
    {"token": inline_serializer("AppTokenWithCode", {**AppTokenSerializer().get_fields(), "token_code": serializers.CharField(help_text="the secret, shown only in this answer")})},
)
_AppTokenOne = inline_serializer("AppTokenOne", {"token": AppTokenSerializer()})


class AppTokenListView(APIView):
    permission_classes = [IsUser]

    @extend_schema(operation_id="listAppTokens", responses=_AppTokenList, summary="List your app tokens")
    def get(self, request: Request) -> Response:
        tokens = AppToken.objects.filter(user=request.user).order_by("-created")
        return Response({"tokens": AppTokenSerializer(tokens, many=True).data})

    @extend_schema(operation_id="createAppToken", request=AppTokenCreateSerializer, responses={201: _AppTokenCreated}, summary="Create an app token (its secret is shown once)")
    def post(self, request: Request) -> Response:
        serializer = AppTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = app_token_create(user=request.user, title=serializer.validated_data["title"], expires_at=serializer.validated_data.get("expiration"))
        body = AppTokenSerializer(created.app_token).data
        body["token_code"] = created.token
        return Response({"token": body}, status=status.HTTP_201_CREATED)


class AppTokenDetailView(APIView):
    permission_classes = [IsUser]

    @extend_schema(operation_id="getAppToken", responses=_AppTokenOne, summary="Get one app token (without its secret)")
    def get(self, request: Request, token_uuid: str) -> Response:
        token = get_object_or_404(AppToken, user=request.user, uuid=token_uuid)
        return Response({"token": AppTokenSerializer(token).data})

    @extend_schema(operation_id="revokeAppToken", responses={204: OpenApiResponse(description="revoked")}, summary="Revoke an app token")
    def delete(self, request: Request, token_uuid: str) -> Response:
        token = get_object_or_404(AppToken, user=request.user, uuid=token_uuid)
        app_token_revoke(app_token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)
