//! Durations as packs write them: `5s`, `300ms`, `15m`, `24h`, `1h30m`.

use std::time::Duration;

pub fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("`{text}` is not a duration ({e}); write it like `5s`, `300ms`, `15m` or `24h`")
    })
}

/// Milliseconds, as `SET LOCAL … = '<n>ms'` expects.
pub fn as_millis(d: Duration) -> u128 {
    d.as_millis()
}

/// Parses a PostgreSQL GUC duration value as written in `SET LOCAL x = '5s'` (default unit ms).
pub fn parse_guc_millis(value: &str) -> Option<u128> {
    let v = value.trim().trim_matches('\'').trim();
    if let Ok(n) = v.parse::<u128>() {
        return Some(n);
    }
    let split = v.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (num, unit) = v.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    Some((num * mult) as u128)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses() {
        assert_eq!(parse("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse("60m").unwrap(), Duration::from_secs(3600));
        assert!(parse("soon").is_err());
        assert_eq!(parse_guc_millis("'5s'"), Some(5000));
        assert_eq!(parse_guc_millis("300"), Some(300));
        assert_eq!(parse_guc_millis("1min"), Some(60000));
        assert_eq!(parse_guc_millis("5 parsecs"), None);
    }
}
