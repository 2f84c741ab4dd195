"""The server's declarative base: every server table registers on its MetaData (migrations, tests).

The column types and mixins live in `vms_common.db.base`, shared with the cloud backend, which has its own base.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from vms_common.db.base import NAMING


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
