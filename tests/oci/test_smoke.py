import pytest

pytestmark = pytest.mark.live


def test_base_endpoint_announces_registry_api_version(live_registry, http):
    response = http.get(f"{live_registry.url}/v2/")
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
