//! UTC timestamps in RFC 3339 (`2026-11-30T01:39:17Z`): whole seconds stored as an integer,
//! calendar maths, formatting and parsing by `jiff`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Whole seconds since the Unix epoch, shown and stored as RFC 3339 UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Timestamp {
        Timestamp(jiff::Timestamp::now().as_second())
    }

    /// Seconds from `self` to `later` (negative when `later` is earlier).
    pub fn seconds_until(self, later: Timestamp) -> i64 {
        later.0 - self.0
    }

    /// `YYYYMMDDTHHMMSSZ`, the sortable form used in run ids.
    pub fn compact(self) -> String {
        self.jiff().strftime("%Y%m%dT%H%M%SZ").to_string()
    }

    /// The instant as `jiff` holds it; seconds beyond its range (years ±9999) are clamped.
    fn jiff(self) -> jiff::Timestamp {
        let s = self.0.clamp(
            jiff::Timestamp::MIN.as_second(),
            jiff::Timestamp::MAX.as_second(),
        );
        jiff::Timestamp::from_second(s).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// Parses RFC 3339: `YYYY-MM-DDTHH:MM:SS`, optional fraction (dropped), then `Z` or
    /// `±HH:MM`. A time without an offset is not an instant: `None`.
    pub fn parse(s: &str) -> Option<Timestamp> {
        let t: jiff::Timestamp = s.trim().parse().ok()?;
        Some(Timestamp(t.as_second()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.jiff().strftime("%Y-%m-%dT%H:%M:%SZ"))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not an RFC 3339 time like 2026-01-31T12:00:00Z"
            ))
        })
    }
}

/// `45s`, `3m07s`, `1h02m`.
pub fn format_duration(secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_known_values() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(951_782_400).to_string(), "2000-02-29T00:00:00Z");
        let t = Timestamp(1_796_002_757);
        assert_eq!(Timestamp::parse(&t.to_string()), Some(t));
        assert_eq!(
            Timestamp::parse("2026-11-30T02:39:17.25+01:00"),
            Timestamp::parse("2026-11-30T01:39:17Z")
        );
        assert_eq!(Timestamp(0).compact(), "19700101T000000Z");
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-01-01T00:00:00",
            "x026-01-01T00:00:00Z",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
        // Whole days either side of the epoch and leap days round-trip.
        for day in [-1i64, 0, 59, 10_956, 11_016, 20_000, 2_000_000] {
            let t = Timestamp(day * 86_400 + 3_723);
            assert_eq!(Timestamp::parse(&t.to_string()), Some(t), "{t}");
            assert!(t.to_string().ends_with("T01:02:03Z"), "{t}");
        }
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59Z");
        assert_eq!(format_duration(187), "3m07s");
    }
}
