"""CSV import through the API: valid rows added, each refused row reported with its reason, nothing half-added."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path / "data", db_url, licensing={"unlicensed_camera_limit": 60})


def _csv(rows: list[str]) -> str:
    return "\n".join(["name;url;username;password;site;tags", *rows]) + "\n"


async def test_fifty_rows_with_three_bad_adds_forty_seven(api: ApiClient) -> None:
    site = str(api.seeded.site_id)
    building = await api.ok("POST", f"/api/v1/sites/{site}/buildings", json={"name": "Tower A"}, status=201)
    floor = await api.ok("POST", f"/api/v1/buildings/{building['id']}/floors", json={"name": "Ground", "level": 0},
                         status=201)
    zone = await api.ok("POST", f"/api/v1/floors/{floor['id']}/zones", json={"name": "Lobby"}, status=201)
    rows = [f"Cam {i:02d};rtsp://10.1.0.{i}:554/main;admin;pw{i};HQ/Tower A/Ground/Lobby;entry|floor0"
            for i in range(1, 51)]
    rows[9] = "Cam 10;http//10.1.0.10/onvif;admin;pw;HQ;"          # not a URL
    rows[19] = "Cam 20;rtsp://10.1.0.20/main;admin;pw;Elsewhere;"   # unknown site
    rows[29] = "Cam 05;rtsp://10.1.0.30/main;admin;pw;HQ/Tower A/Ground/Lobby;"  # name taken by row 6
    report = await api.ok("POST", "/api/v1/cameras/import-csv", json={"csv": _csv(rows)})
    assert len(report["added"]) == 47
    refused = {r["item"]: r for r in report["refused"]}
    assert sorted(refused) == ["row 11", "row 21", "row 31"]
    assert refused["row 11"]["code"] == "csv_invalid_row" and "http//" in refused["row 11"]["message"]
    assert refused["row 21"]["code"] == "csv_unknown_site" and "Elsewhere" in refused["row 21"]["message"]
    assert refused["row 31"]["code"] == "conflict" and refused["row 31"]["name"] == "Cam 05"
    cams = await api.ok("GET", "/api/v1/cameras?limit=100")
    assert len(cams["items"]) == 47
    one = next(c for c in cams["items"] if c["name"] == "Cam 07")
    assert one["zone_id"] == zone["id"] and one["tags"] == ["entry", "floor0"]
    assert one["username"] == "admin" and one["has_secret"] is True
    assert one["streams"][0]["rtsp_url"] == "rtsp://10.1.0.7:554/main"
    # The refused duplicate did not half-add: no camera points at its URL.
    assert not any(c["streams"][0]["rtsp_url"] == "rtsp://10.1.0.30/main" for c in cams["items"])


async def test_unreadable_files_and_roles(api: ApiClient) -> None:
    resp = await api.call("POST", "/api/v1/cameras/import-csv", json={"csv": "nom,adresse\nx,y\n"})
    assert resp.status == 422 and "unknown CSV columns" in (await resp.json())["error"]["message"]
    resp = await api.call("POST", "/api/v1/cameras/import-csv", json={"csv": ""})
    assert resp.status == 422
    # Bare carriage returns (the fuzzer's find: the csv module raised "new-line character seen in unquoted
    # field", a 500) are line ends, as in a file saved by an old Mac program.
    resp = await api.call("POST", "/api/v1/cameras/import-csv",
                          json={"csv": "~\r\u00dbq", "site_id": str(api.seeded.site_id)})
    assert resp.status == 422 and "unknown CSV columns: ~" in (await resp.json())["error"]["message"]
    report = await api.ok("POST", "/api/v1/cameras/import-csv", json={
        "csv": "name,url\rMac,rtsp://10.0.0.2/a\r", "site_id": str(api.seeded.site_id)})
    assert [c["name"] for c in report["added"]] == ["Mac"] and report["refused"] == []
    body = {"csv": "name,url\nA,rtsp://10.0.0.1/a\n", "site_id": str(api.seeded.site_id)}
    assert (await api.call("POST", "/api/v1/cameras/import-csv", Role.SUPERVISOR, json=body)).status == 403
    report = await api.ok("POST", "/api/v1/cameras/import-csv", json=body)
    assert [c["name"] for c in report["added"]] == ["A"] and report["refused"] == []


async def test_licence_refuses_the_whole_file_when_slots_run_short(api: ApiClient, settings: Settings) -> None:
    limit = settings.licensing.unlicensed_camera_limit
    rows = [f"C{i},rtsp://10.2.0.{i % 250}:{1000 + i}/m,,,HQ," for i in range(limit + 1)]
    resp = await api.call("POST", "/api/v1/cameras/import-csv", json={"csv": "name,url,username,password,site,tags\n"
                                                                             + "\n".join(rows)})
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "licence_camera_limit"
    assert (await api.ok("GET", "/api/v1/cameras"))["items"] == []
