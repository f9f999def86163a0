//! The server's clock. Timestamps are UTC and cut to microseconds, the precision PostgreSQL keeps,
//! so that a value read back equals the value written on both databases.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// Now, in UTC, to the microsecond.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}
