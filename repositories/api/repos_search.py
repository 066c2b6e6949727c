"""``/api/v1/find/repositories`` (repository search) and ``/api/v1/entities/<prefix>`` (user, robot,
team and organization autocomplete), in Quay's shapes (``search.py``)."""

from __future__ import annotations

import calendar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from accounts.models import Namespace, Robot
from common.query_params import query_bool, query_int
from repositories.api.repos_common import avatar
from repositories.api.repos_serializers import EntityListSerializer, SearchResultSerializer
from repositories.models import Repository
from repositories.selectors_api import entity_search, repository_search

#: Quay's SEARCH_RESULTS_PER_PAGE and SEARCH_MAX_RESULT_PAGE_COUNT defaults
PAGE_SIZE = 10
MAX_PAGES = 10
REPOSITORY_SEARCH_SCORE = 4
ENTITY_SEARCH_SCORE = 1


def _namespace_view(namespace: Namespace) -> dict:
    if namespace.kind == Namespace.Kind.ORGANIZATION:
        kind, title, href = "organization", "org", f"/organization/{namespace.name}"
    else:
        kind, title, href = "user", "user", f"/user/{namespace.name}"
    return {
        "title": title, "kind": kind, "avatar": avatar(namespace.name, "org" if title == "org" else "user"),
        "name": namespace.name, "score": ENTITY_SEARCH_SCORE, "href": href,
    }


def _repository_view(repository: Repository) -> dict:
    return {
        "kind": "repository",
        "title": "repo",
        "namespace": _namespace_view(repository.namespace),
        "name": repository.name,
        "description": repository.description,
        "is_public": repository.visibility == Repository.Visibility.PUBLIC,
        "score": REPOSITORY_SEARCH_SCORE,
        "href": f"/repository/{repository.full_name}",
        "last_modified": calendar.timegm(repository.last_modified.utctimetuple()),
        "stars": getattr(repository, "star_count", 0),
        "popularity": 0.0,
    }


class RepositorySearchView(APIView):
    permission_classes = [AllowAny]  # anonymous callers find public repositories

    @extend_schema(
        operation_id="conductRepoSearch",
        summary="Search the repositories you may read",
        parameters=[
            OpenApiParameter("query", str, description="Text in the name or description; 'namespace/name' narrows to a namespace"),
            OpenApiParameter("page", int, description="Page number from 1 (at most 10, 10 results each)"),
        ],
        responses=SearchResultSerializer,
        examples=[
            OpenApiExample(
                "One hit",
                value={
                    "results": [{
                        "kind": "repository", "title": "repo", "name": "web", "description": "", "is_public": True, "score": 4,
                        "href": "/repository/acme/web", "last_modified": 1741083630, "stars": 2, "popularity": 0.0,
                        "namespace": {"title": "org", "kind": "organization", "name": "acme", "score": 1, "href": "/organization/acme",
                                      "avatar": {"name": "acme", "hash": "6a3c…", "color": "#ff7f0e", "kind": "org"}},
                    }],
                    "has_additional": False, "page": 1, "page_size": 10, "start_index": 0,
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        principal = principal_of(request)
        if not principal.has_api_scope("repo:read"):
            raise PermissionDenied("this token lacks the repo:read scope")
        page = min(max(1, query_int(request.query_params, "page", 1)), MAX_PAGES)
        offset = (page - 1) * PAGE_SIZE
        found = repository_search(principal=principal, query=request.query_params.get("query", ""), offset=offset, limit=PAGE_SIZE)
        return Response({
            "results": [_repository_view(repository) for repository in found.repositories],
            "has_additional": found.has_additional,
            "page": page,
            "page_size": PAGE_SIZE,
            "start_index": offset,
        })


class EntitySearchView(APIView):
    permission_classes = [IsAuthenticated]  # unlike Quay, no user-name enumeration for anonymous callers

    @extend_schema(
        operation_id="getMatchingEntities",
        summary="Autocomplete users, robots, teams and organizations",
        parameters=[
            OpenApiParameter("prefix", OpenApiTypes.STR, OpenApiParameter.PATH, description="The start of the name"),
            OpenApiParameter("namespace", str, description="Also the robots (and teams) of this namespace, when you belong to it"),
            OpenApiParameter("includeTeams", bool, description="Include teams of the namespace's organization"),
            OpenApiParameter("includeOrgs", bool, description="Include the organization itself (admins only)"),
        ],
        responses=EntityListSerializer,
        examples=[
            OpenApiExample(
                "Matches",
                value={"results": [
                    {"name": "devs", "kind": "team", "is_org_member": True, "avatar": {"name": "devs", "hash": "…", "color": "#969696", "kind": "team"}},
                    {"name": "dave", "kind": "user", "is_robot": False, "is_org_member": True,
                     "avatar": {"name": "dave", "hash": "…", "color": "#2ca02c", "kind": "user"}},
                    {"name": "acme+deployer", "kind": "user", "is_robot": True, "is_org_member": True,
                     "avatar": {"name": "acme+deployer", "hash": "…", "color": "#d62728", "kind": "robot"}},
                ]},
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, prefix: str) -> Response:
        params = request.query_params
        matches = entity_search(
            principal=principal_of(request), prefix=prefix, namespace_name=params.get("namespace", ""),
            include_teams=query_bool(params, "includeTeams"), include_orgs=query_bool(params, "includeOrgs"),
        )
        results: list[dict] = [
            {"name": team.name, "kind": "team", "is_org_member": True, "avatar": avatar(team.name, "team")} for team in matches.teams
        ]
        for entity, is_member in matches.users:
            is_robot = isinstance(entity, Robot)
            email = "" if isinstance(entity, Robot) else entity.email
            item = {
                "name": entity.username, "kind": "user", "is_robot": is_robot,
                "avatar": avatar(entity.username, "robot" if is_robot else "user", email),
            }
            if is_member is not None:
                item["is_org_member"] = is_member
            results.append(item)
        if matches.organization is not None:
            name = matches.organization.namespace.name
            results.append({"name": name, "kind": "org", "is_org_member": True, "avatar": avatar(name, "org")})
        return Response({"results": results})
