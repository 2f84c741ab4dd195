"""Server settings of notifications (`[notifications]` in the TOML file, `VMS_NOTIFICATIONS__*` in the
environment). What a site decides (channels, rules, quiet hours) is in the database and the configuration
hierarchy; these are the delivery machinery's knobs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class NotificationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Route events to notification channels and run the delivery worker")
    poll_interval_s: float = Field(1.0, gt=0, le=60,
                                   description="How often the worker looks for due messages and escalations")
    batch: int = Field(50, ge=1, le=1000, description="Messages claimed per worker round")
    concurrency: int = Field(8, ge=1, le=256, description="Messages sent at the same time")
    max_attempts: int = Field(6, ge=1, le=100, description="Tries before a message goes to the dead-letter list")
    backoff_base_s: float = Field(5.0, gt=0, le=3600,
                                  description="Delay before the first retry; doubled after each failure")
    backoff_max_s: float = Field(900.0, gt=0, le=86400, description="Longest delay between two tries")
    lease_s: float = Field(120.0, ge=1, le=3600,
                           description="A claimed message not finished within this is claimed again (crash)")
    send_timeout_s: float = Field(20.0, gt=0, le=300, description="Time limit of one delivery attempt")
    minute_s: float = Field(60.0, gt=0, le=60,
                            description="Seconds in an escalation 'minute' (tests shorten it; keep 60)")
    catch_up_s: float = Field(900.0, ge=0, le=86400,
                              description="At start, route events stored this recently that were never routed")
    availability_interval_s: float = Field(5.0, gt=0, le=600,
                                           description="How often camera availability is checked for MQTT")
    remote_poll_s: float = Field(300.0, ge=0, le=86400,
                                 description="How often the Jira issues and ServiceNow incidents that messages "
                                             "opened are read back (state noted on the event); 0: never")
    event_url: str = Field("https://vms.local/api/v1/events/{event_id}",
                           description="Link to an event put in messages; {event_id} is replaced")
