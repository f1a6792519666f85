"""``?region=`` list filters declared once (``services.api.params.RegionQ``): the route checks
the prefix is one the caller can see before its body runs, after every parameter is
validated, and the parameter keeps its place and description in the OpenAPI document."""

from services.api.app import create_app
from services.core.settings import Settings
from tests.factories import OTHER_COUNTY_VILLAGE, TOWNSHIP

H = "/api/v1/households"


async def test_a_region_the_caller_cannot_see_is_404_naming_the_parameter(client, auth):
    h = auth("county_staff.county")
    r = await client.get(H, params={"region": OTHER_COUNTY_VILLAGE[:6]}, headers=h)
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (404, "region_not_found", "region")
    r = await client.get(H, params={"region": "529901999"}, headers=h)  # no such township
    assert (r.status_code, r.json()["code"]) == (404, "region_not_found")
    r = await client.get(H, params={"region": TOWNSHIP}, headers=h)
    assert r.status_code == 200


async def test_a_malformed_region_or_another_bad_parameter_is_422_before_the_404(client, auth):
    h = auth("county_staff.county")
    r = await client.get(H, params={"region": "529"}, headers=h)
    assert r.status_code == 422
    assert {k: r.json()["errors"][0][k] for k in ("field", "code")} == {
        "field": "region",
        "code": "region_prefix_malformed",
    }
    # The region is hidden, and the limit is out of range: the parameters are refused first.
    r = await client.get(H, params={"region": OTHER_COUNTY_VILLAGE[:6], "limit": 0}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "limit"
    r = await client.get(H, params={"region": OTHER_COUNTY_VILLAGE[:6], "cursor": "!!"}, headers=h)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "cursor")


async def test_a_route_that_defaults_to_the_callers_regions_checks_a_given_one(client, auth):
    h = auth("county_staff.county")
    r = await client.get("/api/v1/sync-policies/effective", params={"region": OTHER_COUNTY_VILLAGE[:6]}, headers=h)
    assert (r.status_code, r.json()["code"]) == (404, "region_not_found")
    r = await client.get("/api/v1/sync-policies/effective", headers=h)
    assert r.status_code == 200


def test_the_region_parameter_keeps_its_place_in_the_document():
    spec = create_app(Settings(env="test")).openapi()
    names = [p["name"] for p in spec["paths"][H]["get"]["parameters"]]
    assert names[0] == "region" and names[-2:] == ["limit", "cursor"]
