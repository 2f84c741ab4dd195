"""The cloud backend's API contract (issue 20): schemathesis over its OpenAPI document with every check, against a
real backend on PostgreSQL (row-level security on, as in production), must find nothing.

It runs twice, as a tenant admin and as a platform operator, since each sees routes the other is refused. The
licence signing key exists, as after `vms-cloud licence keygen`: without it licence issuing is honestly not ready
(503), which is a deployment state, not a contract failure. `POST /auth/logout` is left out: the fuzzer would end
its own session (tests/cloud/test_backend.py covers it).
"""

from __future__ import annotations

import pytest

from tests.cloud.conftest import Cloud
from tests.server.test_api_contract import RUN_LIMIT_S, SCHEMATHESIS, SEED, run_schemathesis
from vms_cloud_sync.backend import licences

# Two runs (tenant admin, platform operator), each bounded by run_schemathesis.
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(RUN_LIMIT_S * 2 + 120)]


@pytest.mark.skipif(not SCHEMATHESIS.exists(), reason="schemathesis is in the dev extra")
async def test_schemathesis_finds_no_contract_failure(cloud: Cloud) -> None:
    licences.generate_signing_key(cloud.settings.data_dir)
    _, admin_token = await cloud.tenant("acme")
    for who, token in (("tenant admin", admin_token), ("operator", cloud.operator_token)):
        args = [str(SCHEMATHESIS), "run", f"{cloud.url}/api/v1/openapi.json", "--header",
                f"Authorization: Bearer {token}", "--checks", "all", "--max-examples", "5", "--seed", SEED,
                "--workers", "1", "--no-color", "--exclude-name-regex", r"^POST /api/v1/auth/logout$"]
        code, out = await run_schemathesis(args, cloud.settings.data_dir)
        assert "Tested:" in out, f"{who}: {out[-30000:]}"
        assert code == 0, f"{who}: {out[-30000:]}"
