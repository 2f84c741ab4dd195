"""Behaviour changed so that the API does what its OpenAPI document says (issue 20, the API contract): each test
sends what a fuzzer found and checks the answer the document promises."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.server.helpers import ApiClient
from vms_common.auth.passwords import check_strength

CAMERA = {"name": "door", "streams": [{"role": "main", "rtsp_url": "rtsp://192.0.2.10/main"}]}


async def _document(api: ApiClient) -> dict[str, Any]:
    return await api.ok("GET", "/api/v1/openapi.json", None)  # type: ignore[no-any-return]


async def test_undeclared_method_is_405_with_allow_even_beside_a_path_parameter(api: ApiClient) -> None:
    # PATCH /cameras/rtsp-probe used to reach PATCH /cameras/{camera_id} and fail its body check (422).
    resp = await api.call("PATCH", "/api/v1/cameras/rtsp-probe", json={"rtsp_url": "rtsp://x/"})
    assert resp.status == 405 and resp.headers["Allow"] == "POST"
    assert (await api.call("GET", "/api/v1/cameras/not-a-uuid")).status == 404
    assert (await api.call("GET", "/api/v1/sites/null,null/buildings")).status == 404


async def test_document_lists_404_for_path_ids_and_422_for_query_models(api: ApiClient) -> None:
    paths = (await _document(api))["paths"]
    assert "404" in paths["/api/v1/buildings/{building_id}/floors"]["get"]["responses"]
    assert "422" in paths["/api/v1/config/versions"]["get"]["responses"]
    version = next(p for p in paths["/api/v1/config/versions/{version}"]["get"]["parameters"] if p["in"] == "path")
    assert version["schema"]["type"] == "integer"


async def test_wrong_json_types_are_refused_and_integral_floats_accepted(api: ApiClient) -> None:
    base = {"cameras": 1, "codec": "h264", "fps": 15, "resolution": "1080p", "retention_days": 30}
    assert (await api.call("POST", "/api/v1/sizing", json={**base, "use_gpu": 0})).status == 422
    assert (await api.call("POST", "/api/v1/sizing", json={**base, "cameras": "1"})).status == 422
    assert (await api.call("POST", "/api/v1/sizing", json={**base, "cameras": False})).status == 422
    assert (await api.call("POST", "/api/v1/sizing", json={**base, "cameras": 2.0})).status == 200


async def test_query_date_times_are_iso_8601_and_parameters_single(api: ApiClient) -> None:
    assert (await api.call("GET", "/api/v1/audit", params={"until": "0.5"})).status == 422
    assert (await api.call("GET", "/api/v1/audit", params=[("limit", "5"), ("limit", "6")])).status == 422
    assert (await api.call("GET", "/api/v1/audit", params={"until": "2026-01-01T00:00:00Z"})).status == 200


async def test_cursors_have_a_documented_shape_that_always_decodes(api: ApiClient) -> None:
    site = str(api.seeded.site_id)
    for name in ("a", "b", "c"):
        await api.ok("POST", "/api/v1/cameras", status=201, json={**CAMERA, "name": name, "site_id": site})
    first = await api.ok("GET", "/api/v1/cameras", params={"limit": "2"})
    pattern = next(p for p in (await _document(api))["paths"]["/api/v1/cameras"]["get"]["parameters"]
                   if p["name"] == "cursor")["schema"]["anyOf"][0]["pattern"]
    assert re.fullmatch(pattern, first["next_cursor"])
    rest = await api.ok("GET", "/api/v1/cameras", params={"limit": "2", "cursor": first["next_cursor"]})
    assert [c["name"] for c in first["items"] + rest["items"]] == ["a", "b", "c"]
    # Any string of the pattern is a position: bytes that are not UTF-8 (ff) still page, not 422.
    odd = await api.call("GET", "/api/v1/cameras", params={"cursor": f"{uuid.uuid4()}.ff"})
    assert odd.status == 200
    assert (await api.call("GET", "/api/v1/cameras", params={"cursor": "garbage"})).status == 422
    events = await api.call("GET", "/api/v1/events", params={"cursor": f"0.{uuid.uuid4()}"})
    assert events.status == 200


async def test_each_level_of_the_site_tree_takes_only_its_fields(api: ApiClient) -> None:
    site = await api.ok("POST", "/api/v1/sites", status=201, json={"name": "North", "timezone": "Europe/Oslo"})
    assert (await api.call("POST", "/api/v1/sites", json={"name": "South", "level": 2})).status == 422
    building = await api.ok("POST", f"/api/v1/sites/{site['id']}/buildings", status=201, json={"name": "A"})
    floor = await api.ok("POST", f"/api/v1/buildings/{building['id']}/floors", status=201,
                         json={"name": "1st", "level": 1})
    assert floor["level"] == 1
    schemas = (await _document(api))["components"]["schemas"]
    assert set(schemas["SiteCreate"]["properties"]) == {"name", "address", "timezone"}
    assert set(schemas["FloorUpdate"]["properties"]) == {"name", "level"}


async def test_password_rule_is_in_the_document(api: ApiClient) -> None:
    prop = (await _document(api))["components"]["schemas"]["UserCreate"]["properties"]["password"]
    assert prop["minLength"] == 10
    # The document's pattern (ECMA-262: a look-ahead with back references) agrees with the code.
    pattern = prop["pattern"]
    for candidate in ("aaaaaaaaab", "abcabcabca", "abcdaaaaaa", "Correct-Horse-42"):
        assert (re.match(pattern, candidate) is not None) == (check_strength(candidate) is None), candidate


async def test_unknown_site_of_a_new_camera_or_user_is_404(api: ApiClient) -> None:
    missing = str(uuid.uuid4())
    assert (await api.call("POST", "/api/v1/cameras", json={**CAMERA, "site_id": missing})).status == 404
    in_site = {**CAMERA, "site_id": str(api.seeded.site_id), "zone_id": missing}
    assert (await api.call("POST", "/api/v1/cameras", json=in_site)).status == 404
    credentials = (await _document(api))["components"]["schemas"]["CredentialsIn"]["anyOf"]
    assert {"properties": {"method": {"enum": ["basic", "digest"]}, "username": {"type": "string", "minLength": 1}},
            "required": ["username"]} in credentials
    user = {"username": "newbie", "password": "Correct-Horse-42", "role": "viewer", "site_ids": [missing]}
    assert (await api.call("POST", "/api/v1/users", json=user)).status == 404


async def test_an_unreachable_cloud_is_a_502(api: ApiClient) -> None:
    body = {"cloud_url": "https://127.0.0.1:9", "token": "t" * 32, "name": "edge"}
    resp = await api.call("POST", "/api/v1/sync/enrol", json=body)
    assert resp.status == 502 and (await resp.json())["error"]["code"] == "cloud_unreachable"


async def test_recording_rules_are_in_the_document(api: ApiClient) -> None:
    schemas = (await _document(api))["components"]["schemas"]
    policy = schemas["PolicyIn"]["properties"]
    assert "Europe/Oslo" in policy["timezone"]["enum"]
    retention = schemas["RetentionIn"]["properties"]["event_retention_days"]
    assert retention["propertyNames"]["maxLength"] == 100
    assert retention["additionalProperties"]["maximum"] == 3650
    assert schemas["SizingInput"]["properties"]["analytics"]["items"]["enum"][0] == "intrusion"
    bad = {"retention_days": None, "event_retention_days": {"intrusion": 0}}
    assert (await api.call("PUT", "/api/v1/recording/retention", json=bad)).status == 422


async def test_numbers_and_free_form_json_carry_the_64_bit_limit(api: ApiClient) -> None:
    document = await _document(api)
    assert document["components"]["schemas"]["SizingInput"]["properties"]["cameras"]["maximum"] <= 2**63 - 1
    assert "JsonValue" in document["components"]["schemas"]
    base = {"cameras": 1, "codec": "h264", "fps": 15, "resolution": "1080p", "retention_days": 30}
    # 1e300 is an integer to JSON Schema, so it is held to the same range as one written in digits.
    resp = await api.call("POST", "/api/v1/sizing", data='{"cameras": 1e300}',
                          headers={"Content-Type": "application/json"})
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "number_out_of_range"
    assert (await api.call("POST", "/api/v1/sizing", json={**base, "cameras": 2.0})).status == 200


async def test_creates_link_to_what_they_made(api: ApiClient) -> None:
    """OpenAPI links let a stateful client chain create -> read -> change -> delete."""
    links = (await _document(api))["paths"]["/api/v1/cameras"]["post"]["responses"]["201"]["links"]
    assert links["get_camera"] == {"operationId": "get_camera", "parameters": {"camera_id": "$response.body#/id"}}
    assert {"update_camera", "delete_camera"} <= set(links)


def test_every_request_body_refuses_fields_it_does_not_know() -> None:
    """A body that allowed extra fields documented them as anything, so a fuzzer sent a 70-digit integer in one
    and got the 64-bit refusal (POST /cameras/{id}/diagnostics); an unknown field is a client's mistake anyway."""
    from vms_server.app import ROUTERS

    loose = sorted({f"{spec.method} {spec.path} ({spec.body.__name__})" for router in ROUTERS for spec in router.specs
                    if spec.body is not None and spec.body.model_config.get("extra") != "forbid"})
    assert loose == []
