"""Sign-in refusals whose bookkeeping must outlive the refused request."""

from __future__ import annotations

from dispatch.errors import Unauthorized


class RecordedRefusal(Unauthorized):
    """401, but what the service wrote first (a spent code try, a revoked token family) stays.

    The system session dependency commits before letting this propagate; every other
    exception rolls the transaction back as usual.
    """
