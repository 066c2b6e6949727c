"""The server-rendered web UI: thin views over ``repositories.web.selectors`` (reads) and the
services of the apps (writes). Unreadable repositories answer 404, as in the REST API."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.services import app_token_create, app_token_revoke
from repositories.selectors_security import manifest_security_overview
from repositories.services.repositories import star_add, star_remove
from repositories.web import selectors
from repositories.web.builds_selectors import recent_builds
from repositories.web.forms import AppTokenCreateForm, SignInForm

SIGN_IN_URL = reverse_lazy("web:signin")
#: the session key holding a freshly created app token until the settings page shows it once
NEW_TOKEN_KEY = "web_new_app_token"


def registry_host(request: HttpRequest) -> str:
    """The host clients pull from: the configured server hostname, else the request's host."""
    return settings.MOORAGE_SERVER_HOSTNAME or request.get_host()


def _int(value: str | None, default: int = 1) -> int:
    try:
        return max(1, int(value or default))
    except ValueError:
        return default


# --- sign in and out ---------------------------------------------------------------------------


class SignInView(auth_views.LoginView):
    template_name = "web/signin.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True
    next_page = reverse_lazy("web:explore")


class SignOutView(auth_views.LogoutView):
    """POST only (Django's rule): a link cannot sign anyone out."""

    next_page = reverse_lazy("web:explore")


# --- explore ----------------------------------------------------------------------------------


@require_GET
def explore(request: HttpRequest) -> HttpResponse:
    principal = selectors.principal_of_request(request)
    filters = selectors.ExploreFilters(
        query=request.GET.get("q", "")[:200],
        namespace=request.GET.get("namespace", "")[:255],
        public_only=request.GET.get("public") == "1",
        starred=request.GET.get("starred") == "1" and principal.kind == "user",
    )
    page = selectors.explore_page(principal=principal, filters=filters, page=_int(request.GET.get("page")))
    kept = {key: value for key, value in request.GET.items() if key != "page" and value}
    return render(
        request,
        "web/explore.html",
        {
            "page": page,
            "filters": filters,
            "namespaces": selectors.namespaces_for_filter(principal=principal),
            "query_string": urlencode(kept),
            "signed_in": principal.kind == "user",
        },
    )


# --- repository and manifest ------------------------------------------------------------------


class NotFound(Exception):
    """A page that does not exist, or that the viewer may not see (the same answer for both)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def not_found(request: HttpRequest, what: str) -> HttpResponse:
    """The UI's own 404 page (with navigation and sign-in), whatever DEBUG says."""
    return render(request, "web/404.html", {"what": what}, status=404)


def answers_404(view):
    """Turn ``NotFound`` raised by ``view`` into the UI's 404 page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            return not_found(request, exc.what)

    return wrapper


def _repository_or_404(request: HttpRequest, name: str):
    principal = selectors.principal_of_request(request)
    repository = selectors.readable_repository(principal=principal, full_name=name)
    if repository is None:
        raise NotFound("repository")
    return principal, repository


@require_GET
@answers_404
def repository_detail(request: HttpRequest, name: str) -> HttpResponse:
    principal, repository = _repository_or_404(request, name)
    overview = selectors.repository_overview(principal=principal, repository=repository, history_page=_int(request.GET.get("history")))
    host = registry_host(request)
    names = [row.tag.name for row in overview.tags]
    tag = "latest" if "latest" in names else (names[0] if names else None)  # newest first
    context = {"o": overview, "repository": repository, "host": host, "signed_in": principal.kind == "user"}
    context.update(recent_builds(principal=principal, repository=repository))
    if tag is not None:
        context.update(pull_reference=f"{repository.full_name}:{tag}", **pull_commands(host, repository.full_name, f":{tag}"))
    return render(request, "web/repository.html", context)


def pull_commands(host: str, full_name: str, reference: str) -> dict[str, str]:
    """``podman pull`` and ``skopeo copy`` of ``host/full_name`` + ``:tag`` or ``@digest``."""
    local = full_name.rsplit("/", 1)[-1]
    suffix = reference if reference.startswith(":") else ""
    return {
        "podman_command": f"podman pull {host}/{full_name}{reference}",
        "skopeo_command": f"skopeo copy docker://{host}/{full_name}{reference} oci:{local}{suffix}",
    }


@require_GET
@answers_404
def manifest_detail(request: HttpRequest, name: str, digest: str) -> HttpResponse:
    _principal, repository = _repository_or_404(request, name)
    overview = selectors.manifest_overview(repository=repository, digest=digest)
    if overview is None:
        raise NotFound("manifest")
    host = registry_host(request)
    is_organization = selectors.is_organization_namespace(repository.namespace_id)
    context = {"o": overview, "repository": repository, "host": host, "is_organization": is_organization}
    context["security"] = manifest_security_overview(manifest=overview.manifest)  # issue #8
    context.update(pull_commands(host, repository.full_name, f"@{overview.manifest.digest}"))
    return render(request, "web/manifest.html", context)


@require_POST
@login_required(login_url=SIGN_IN_URL)
@answers_404
def star(request: HttpRequest, name: str) -> HttpResponse:
    _principal, repository = _repository_or_404(request, name)
    if request.POST.get("action") == "unstar":
        star_remove(user=request.user, full_name=repository.full_name)
        messages.success(request, f"Removed your star from {repository.full_name}.")
    else:
        star_add(user=request.user, repository=repository)
        messages.success(request, f"Starred {repository.full_name}.")
    return redirect("web:repository", name=repository.full_name)


# --- organization -----------------------------------------------------------------------------


@require_GET
@answers_404
def organization_detail(request: HttpRequest, name: str) -> HttpResponse:
    principal = selectors.principal_of_request(request)
    overview = selectors.organization_overview(principal=principal, name=name)
    if overview is None:
        raise NotFound("organization")
    return render(request, "web/organization.html", {"o": overview, "host": registry_host(request)})


@require_GET
@answers_404
def user_namespace_detail(request: HttpRequest, name: str) -> HttpResponse:
    principal = selectors.principal_of_request(request)
    overview = selectors.user_namespace_overview(principal=principal, name=name)
    if overview is None:
        raise NotFound("user")
    return render(request, "web/user.html", {"o": overview, "host": registry_host(request)})


# --- user settings and app tokens -------------------------------------------------------------


@login_required(login_url=SIGN_IN_URL)
def user_settings(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = AppTokenCreateForm(request.POST)
        if form.is_valid():
            created = app_token_create(user=request.user, title=form.cleaned_data["title"], expires_at=form.expires_at())
            # Shown once: the settings page pops it from the session on the next GET.
            request.session[NEW_TOKEN_KEY] = {"title": created.app_token.title, "token": created.token}
            return redirect("web:settings")
    elif request.method == "GET":
        form = AppTokenCreateForm()
    else:
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    return render(
        request,
        "web/settings.html",
        {
            "form": form,
            "tokens": selectors.app_tokens_of(user=request.user),
            "new_token": request.session.pop(NEW_TOKEN_KEY, None) if request.method == "GET" else None,
            "host": registry_host(request),
        },
    )


@require_POST
@login_required(login_url=SIGN_IN_URL)
@answers_404
def app_token_revoke_view(request: HttpRequest, token_uuid: str) -> HttpResponse:
    app_token = selectors.app_token_of(user=request.user, uuid=token_uuid)
    if app_token is None:
        raise NotFound("app token")
    title = app_token.title
    app_token_revoke(app_token=app_token)
    messages.success(request, f"Revoked the app token “{title}”.")
    return redirect(reverse("web:settings"))
