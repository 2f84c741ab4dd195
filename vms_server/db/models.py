"""Imports every domain's models so that `Base.metadata` is complete (migrations, tests)."""

from vms_server.analytics.models import CameraAnalytics, CustomerAnalytics
from vms_server.anpr.models import PlateRead, WatchlistEntry
from vms_server.audit.models import AuditEntry
from vms_server.auth.models import RefreshToken, User, user_sites
from vms_server.cameras.models import Camera, CameraGroup, CameraStream, Tag, camera_group_members, camera_tags
from vms_server.cloudsync.models import OutboxItem, SyncState
from vms_server.cluster.models import CameraAssignment, ClusterNode
from vms_server.config.models import ConfigValue, ConfigVersion
from vms_server.db.base import Base
from vms_server.events.models import Event, EventNote
from vms_server.layouts.models import SharedLayout
from vms_server.licensing.models import LicenceRecord
from vms_server.notifications.directory_models import NotifyContact, NotifyGroup, NotifyOnCall
from vms_server.notifications.models import (
    NotifyChannel,
    NotifyEscalation,
    NotifyMessage,
    NotifyRouted,
    NotifyRule,
)
from vms_server.org.models import Building, Customer, Floor, Site, Zone
from vms_server.recording.models import (
    CustomerRetention,
    EvidenceLock,
    ExportJob,
    RecordingPolicy,
    RecordingSegment,
)
from vms_server.tickets.models import Ticket
from vms_server.watchdog.models import Incident

__all__ = [
    "AuditEntry",
    "Base",
    "Building",
    "Camera",
    "CameraAnalytics",
    "CameraAssignment",
    "CameraGroup",
    "CameraStream",
    "ClusterNode",
    "ConfigValue",
    "ConfigVersion",
    "Customer",
    "CustomerAnalytics",
    "CustomerRetention",
    "Event",
    "EventNote",
    "EvidenceLock",
    "ExportJob",
    "Floor",
    "Incident",
    "LicenceRecord",
    "NotifyChannel",
    "NotifyContact",
    "NotifyEscalation",
    "NotifyGroup",
    "NotifyMessage",
    "NotifyOnCall",
    "NotifyRouted",
    "NotifyRule",
    "OutboxItem",
    "PlateRead",
    "RecordingPolicy",
    "RecordingSegment",
    "RefreshToken",
    "SharedLayout",
    "Site",
    "SyncState",
    "Tag",
    "Ticket",
    "User",
    "WatchlistEntry",
    "Zone",
    "camera_group_members",
    "camera_tags",
    "user_sites",
]
