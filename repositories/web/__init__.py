"""The server-rendered web UI (Django templates under templates/web/, static files under
repositories/static/web/), mounted at /ui/ with / redirecting there."""
