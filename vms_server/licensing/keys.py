"""The application key of `vms_server.licensing`, kept beside the service it names.

Routes and contexts look the service up with it; `vms_server.keys` holds only the framework's keys and imports
no domain package, so a key here never ties two features into one import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from vms_server.licensing.service import LicencePolicy

# Set by the secrets context: the server id comes from the installation's master key.
LICENCE_POLICY: web.AppKey[LicencePolicy] = web.AppKey("licence_policy")
