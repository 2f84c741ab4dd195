"""The API contract (issue 20): schemathesis runs over the server's own OpenAPI document, with every check,
against a real server on a loopback port, and must find nothing.

Every check means: no 5xx, responses match their documented schemas and status codes, schema-valid requests
are accepted (no rule that lives only in code), schema-violating ones are refused, undeclared methods get 405
with an `Allow` header, and the stateful phase chains operations (create -> read -> delete) through the links it
infers from the document.
Examples are bounded and the seed fixed, so a run is reproducible and takes about a minute on a busy machine;
the coverage phase (boundary and type-violating values per parameter) is deterministic anyway.

Not fuzzed, each for a reason:
- `POST /auth/logout` and `PATCH /users/{user_id}`: the fuzzer would end its own session (logout; disabling
  its own user or resetting its password or MFA revokes its tokens) and every later case would be a 401.
  tests/server/test_auth.py, test_auth_revocation.py and test_site_filtering.py cover them.
- WebSocket routes (`/ws`, `/cameras/{camera_id}/live/ws`): documented for discovery; a plain HTTP request to
  them is not the protocol (tests/server/test_ws.py and the live-view tests speak it).
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
from aiohttp import ClientSession, web

from tests.conftest import PASSWORD, make_settings, seed
from tests.server.helpers import totp_now
from vms_common.auth.roles import Role
from vms_server.app import create_app

# Seconds: a run takes 20-30 s on a quiet two-core machine, five minutes when it is loaded ten times over.
RUN_LIMIT_S = 600
pytestmark = [pytest.mark.slow, pytest.mark.timeout(RUN_LIMIT_S * 2 + 120)]

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# Operation names ("METHOD /path") left out; see the module docstring.
NOT_FUZZED = [r"^POST /api/v1/auth/logout$", r"^PATCH /api/v1/users/\{user_id\}$", r"^GET .*/ws$"]
EXCLUDED = "|".join(NOT_FUZZED)
SEED = "20"
# The routes that reach an address the caller gives (a camera to probe, a cloud to enrol with) answer 502 when
# nothing answers there: documented, and honest (this server is fine; the other end is not). Schemathesis
# counts every 5xx as a server error unless told otherwise, so it is told, for those routes and 502 only.
#
# Operations whose input has rules that JSON Schema cannot state (they relate two fields, or refer to rows,
# or are the content of a file) answer a schema-valid request that breaks one with 422 and the rule's code,
# documented on the operation. Schemathesis is told so for those operations and that status only; every other
# check (no 5xx, documented statuses and bodies, schema-violating input refused, 405 with Allow) still runs on
# them. Each rule, and where it is tested:
# - layouts: a tile lies inside the grid and overlaps no other (tests/server/layouts);
# - notification channels: the configuration fields of each channel kind; rules: the channel ids and the users,
#   groups and on-call rotas they name exist; groups and rotas: their users exist (tests/server/notifications);
# - PUT /config/values: each key's own value type and range, scope_id given for a site or camera scope
#   (tests/server/config);
# - POST /cameras/import-csv: the CSV text has a header with the name and url columns (tests/server/discovery);
# - POST /discovery/scan: a from-to range holds at most 4096 addresses (the pattern states the rest);
# - footage dates (timeline, snapshot, playback, exports, evidence locks): from 1970 to ten years from now, a bound
#   that moves with the clock and applies after the offset (tests/server/recording/test_date_bounds.py).
SEMANTIC_422 = ["^/api/v1/layouts", "^/api/v1/notifications/(channels|rules|groups|oncall)", "^/api/v1/config/values$",
                "^/api/v1/cameras/import-csv$", "^/api/v1/discovery/scan$",
                "^/api/v1/cameras/[^/]+/(recordings|snapshot|playback[.]mp4)$", "^/api/v1/(exports|evidence-locks)$"]
CONFIG = """
[[operations]]
include-path-regex = "^/api/v1/(cameras/(rtsp-probe|onvif-probe|from-onvif)|sync/enrol)$"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "502"]
""" + "".join(f"""
[[operations]]
include-path-regex = "{regex}"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
""" for regex in SEMANTIC_422)


def schemathesis_args(url: str, token: str, workdir: Path) -> list[str]:
    """The command line (README.md, "API contract"): all checks, bounded examples, a fixed seed."""
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG)
    return [str(SCHEMATHESIS), "--config-file", str(config), "run", f"{url}/api/v1/openapi.json",
            "--header", f"Authorization: Bearer {token}", "--checks", "all", "--max-examples", "5", "--seed", SEED,
            "--workers", "1", "--no-color", "--exclude-name-regex", EXCLUDED]


async def run_schemathesis(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the CLI without blocking the loop that serves the API under test. Bounded inside the test's own
    timeout (RUN_LIMIT_S < the tests' pytest timeout), and a run cut short is reaped: a subprocess transport left
    to the garbage collector warns in whichever later test collects it."""
    proc = await asyncio.create_subprocess_exec(*args, cwd=cwd, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=RUN_LIMIT_S)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(errors="replace")


@pytest.mark.skipif(not SCHEMATHESIS.exists(), reason="schemathesis is in the dev extra")
async def test_schemathesis_finds_no_contract_failure(tmp_path: Path, sqlite_template: Path) -> None:
    db = tmp_path / "vms.db"
    shutil.copy(sqlite_template, db)
    settings = make_settings(tmp_path / "data", f"sqlite+aiosqlite:///{db}",
                             recording={"enabled": False}, analytics={"enabled": False})
    seeded = await seed(settings)
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}"
        username, secret = seeded.users[Role.ADMIN]
        async with ClientSession() as client:
            resp = await client.post(f"{url}/api/v1/auth/login", json={
                "username": username, "password": PASSWORD, "totp_code": totp_now(secret)})
            assert resp.status == 200, await resp.text()
            token = (await resp.json())["access_token"]
        code, out = await run_schemathesis(schemathesis_args(url, token, tmp_path), tmp_path)
    finally:
        await runner.cleanup()
    assert "Tested:" in out, out[-30000:]  # it reached the summary: the document loaded and ran
    assert code == 0, out[-30000:]
