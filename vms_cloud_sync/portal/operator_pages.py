"""The platform operator's MFA page: the enrolment the API offers (`operator_mfa`), in the portal.

The operator signs every tenant's licences, so setting up the second factor must not need a script: the page
shows the key once (and its otpauth link for a phone), and a right code switches it on and replaces the login
cookie, as the HQ users' page does. Starting a new setup while enrolled keeps the old key until the new one is
confirmed, so a stolen session cannot lock the operator out from here.
"""

from __future__ import annotations

import logging

from aiohttp import web

from vms_cloud_sync.backend import keys, operator_mfa
from vms_cloud_sync.backend.auth import COOKIE
from vms_cloud_sync.backend.db import scoped
from vms_cloud_sync.backend.models import Operator
from vms_cloud_sync.portal.platform import operator
from vms_cloud_sync.portal.web import check_csrf, page, set_login_cookie
from vms_common.errors import VmsError

logger = logging.getLogger(__name__)
BASE = "/portal/platform/mfa"


async def _enabled(request: web.Request, who_id: object) -> bool:
    async with scoped(request.app[keys.SESSIONS], None, platform=True) as session:
        row = await session.get(Operator, who_id)
    return row is not None and row.totp_secret is not None


async def mfa_page(request: web.Request) -> web.Response:
    who = await operator(request)
    return page(request, "mfa.html", who, enabled=await _enabled(request, who.user_id), required=False,
                setup=None, error=None, base=BASE)


async def mfa_start(request: web.Request) -> web.Response:
    who = await operator(request)
    check_csrf(request, await request.post())
    setup = await operator_mfa.setup(request.app, who)
    return page(request, "mfa.html", who, enabled=False, required=False, setup=setup, error=None, base=BASE)


async def mfa_confirm(request: web.Request) -> web.Response:
    who = await operator(request)
    form = await request.post()
    check_csrf(request, form)
    try:
        out = await operator_mfa.confirm(request.app, who, str(form.get("code", "")).strip())
    except VmsError as exc:
        return page(request, "mfa.html", who, 401, enabled=await _enabled(request, who.user_id), required=False,
                    setup=None, error=exc.message, base=BASE)
    old = request.cookies.get(COOKIE)
    if old:
        await request.app[keys.AUTHENTICATOR].revoke(old)
    redirect = web.HTTPSeeOther("/portal/platform/licences")
    set_login_cookie(redirect, request, out.access_token)
    raise redirect


def install(app: web.Application) -> None:
    app.router.add_get(BASE, mfa_page)
    app.router.add_post(BASE, mfa_start)
    app.router.add_post(f"{BASE}/confirm", mfa_confirm)
