"""Every declared route, called as anonymous, viewer, supervisor and admin.

The route table is read from the app, so routes added later are covered without editing this file; a pinned
table guards the routes where a loosened role would be a security bug.
"""

from __future__ import annotations

import re
import uuid

from tests.server.helpers import ApiClient
from vms_common.api import keys
from vms_common.auth.roles import Role

ROLES = [Role.VIEWER, Role.SUPERVISOR, Role.ADMIN]
PINNED = {
    ("POST", "/api/v1/users"): Role.ADMIN,
    ("PATCH", "/api/v1/users/{user_id}"): Role.ADMIN,
    ("GET", "/api/v1/users"): Role.SUPERVISOR,
    ("POST", "/api/v1/cameras"): Role.ADMIN,
    ("DELETE", "/api/v1/cameras/{camera_id}"): Role.ADMIN,
    ("PUT", "/api/v1/cameras/{camera_id}/tags"): Role.SUPERVISOR,
    ("GET", "/api/v1/cameras"): Role.VIEWER,
    ("POST", "/api/v1/licence"): Role.ADMIN,
    ("GET", "/api/v1/licence"): Role.VIEWER,
    ("POST", "/api/v1/sites"): Role.ADMIN,
    ("GET", "/health/detailed"): Role.SUPERVISOR,
    ("GET", "/health/ready"): None,
    ("POST", "/api/v1/auth/login"): None,
}


def _concrete(path: str) -> str:
    return re.sub(r"{\w+}", lambda _: str(uuid.uuid4()), path)


async def test_pinned_routes_declare_the_expected_role(api: ApiClient) -> None:
    declared = {(s.method, s.path): s.role for s in api.client.app[keys.ROUTER].specs}
    for route, role in PINNED.items():
        assert route in declared, f"{route} is not declared"
        assert declared[route] == role, f"{route}: declared {declared[route]}, expected {role}"


async def test_role_matrix(api: ApiClient) -> None:
    specs = sorted(api.client.app[keys.ROUTER].specs, key=lambda s: s.path.endswith("/logout"))
    checked = 0
    for spec in specs:
        if spec.role is None:
            continue
        path = _concrete(spec.path)
        body = {} if spec.method in ("POST", "PUT", "PATCH") else None
        anonymous = await api.call(spec.method, path, None, json=body)
        assert anonymous.status == 401, f"{spec.method} {spec.path} as anonymous: {anonymous.status}"
        for role in ROLES:
            resp = await api.call(spec.method, path, role, json=body)
            if role.at_least(spec.role):
                assert resp.status not in (401, 403), f"{spec.method} {spec.path} as {role}: {resp.status}"
                assert resp.status < 500, f"{spec.method} {spec.path} as {role}: {await resp.text()}"
            else:
                assert resp.status == 403, f"{spec.method} {spec.path} as {role}: {resp.status}"
                assert (await resp.json())["error"]["code"] == "forbidden"
        checked += 1
    assert checked >= 20


async def test_bad_or_foreign_tokens_are_401(api: ApiClient) -> None:
    for header in ("Bearer nonsense", "Basic YWRtaW46YWRtaW4=", "Bearer ", "bearer a.b.c"):
        resp = await api.call("GET", "/api/v1/cameras", None, headers={"Authorization": header})
        assert resp.status == 401
    mfa_only = await api.ok("POST", "/api/v1/auth/login", None,
                            json={"username": "viewer1", "password": "Correct-Horse-42"})
    # The half-way MFA token is not an access token.
    resp = await api.call("GET", "/api/v1/cameras", None,
                          headers={"Authorization": f"Bearer {mfa_only['mfa_token']}"})
    assert resp.status == 401
