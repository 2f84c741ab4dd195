"""The server's clock as this console sees it: holds end at the server's `hold_until`, and a console whose own
clock is off (no NTP on a control-room PC, a wrong time zone setting turned into a wrong UTC) would otherwise
show an alarm on hold that is not, or leave one silent long after its hold ended.

Every ticket the server sends (answer or push) carries `server_time`, its clock as it sent it. The offset is
that minus this console's clock when it arrived: delivery only makes it smaller, so the largest of the last
few is the best guess; a sample far from it means one of the two clocks was stepped, and starts afresh."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Callable

logger = logging.getLogger(__name__)
SAMPLES = 8
STEP_S = 5.0  # a sample further than this from the estimate: a clock was set, the older samples are void


class ServerClock:
    def __init__(self, local: Callable[[], float] = time.time) -> None:
        self.local = local  # this console's clock (epoch seconds); tests skew it on purpose
        self._samples: deque[float] = deque(maxlen=SAMPLES)

    @property
    def offset(self) -> float:
        """Seconds to add to this console's clock to get the server's (0 before the first sample)."""
        return max(self._samples) if self._samples else 0.0

    def now(self) -> float:
        """The server's time now, in epoch seconds."""
        return self.local() + self.offset

    def learn(self, server_time: object) -> None:
        """A `server_time` (ISO 8601) just received; ignored when absent or unreadable (an older server)."""
        if not server_time:
            return
        try:
            sent = dt.datetime.fromisoformat(str(server_time).replace("Z", "+00:00")).timestamp()
        except ValueError:
            return
        sample = sent - self.local()
        if self._samples and abs(sample - self.offset) > STEP_S:
            logger.info("server clock offset now %+.1f s (was %+.1f s)", sample, self.offset)
            self._samples.clear()
        elif not self._samples:
            logger.info("server clock offset %+.1f s", sample)
        self._samples.append(sample)
