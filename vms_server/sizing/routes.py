"""`POST /api/v1/sizing`."""

from __future__ import annotations

from vms_common.api.routing import ApiRouter, Call
from vms_common.auth.roles import Role
from vms_server.sizing.calculator import SizingInput, SizingResult, size

router = ApiRouter()


@router.route("POST", "/sizing", role=Role.VIEWER, body=SizingInput, response=SizingResult, tags=["sizing"],
              errors=(422,))
async def sizing(call: Call[SizingInput]) -> SizingResult:
    """Storage, disk and network bandwidth, CPU cores and GPUs for a deployment, with the assumptions."""
    return size(call.body)
