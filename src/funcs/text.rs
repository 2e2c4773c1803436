//! Scalar conversions and string helpers (SPEC §2.5, §3, §7).

/// A boolean from `true`/`false`/`1`/`0`/`yes`/`no`/`是`/`否`, ASCII case-insensitive, untrimmed.
pub fn parse_bool(s: &str) -> Option<bool> {
    const TRUE: [&str; 4] = ["true", "1", "yes", "是"];
    const FALSE: [&str; 4] = ["false", "0", "no", "否"];
    if TRUE.iter().any(|t| t.eq_ignore_ascii_case(s)) {
        Some(true)
    } else if FALSE.iter().any(|f| f.eq_ignore_ascii_case(s)) {
        Some(false)
    } else {
        None
    }
}

/// An integer: an optional sign and ASCII digits, nothing else; None when out of the i64 range.
pub fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// A float in Rust's `f64` syntax (`str::parse`); non-finite results (`inf`, `NaN`, `1e999`) are
/// returned as they are for the caller to handle.
pub fn parse_float(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

/// Rust's `Display` for `f64`: shortest digits that read back, no exponent, no trailing `.0`.
pub fn render_float(f: f64) -> String {
    f.to_string()
}

/// Truncates toward zero; None when not finite or outside the i64 range.
pub fn float_to_int(f: f64) -> Option<i64> {
    // -2^63 is exactly representable and in range; 2^63 is the first value above i64::MAX.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if !f.is_finite() {
        return None;
    }
    let t = f.trunc();
    if (-LIMIT..LIMIT).contains(&t) {
        // In range and integral, so the cast is exact.
        Some(t as i64)
    } else {
        None
    }
}

/// Up to `n` characters of `s` from character `start`; `""` when `start` is past the end, None
/// when `start` or `n` is negative.
pub fn substr(s: &str, start: i64, n: i64) -> Option<String> {
    if start < 0 || n < 0 {
        return None;
    }
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    Some(s.chars().skip(start).take(n).collect())
}

/// The length of `s` in characters (Unicode scalar values).
pub fn char_len(s: &str) -> i64 {
    i64::try_from(s.chars().count()).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;

    #[test]
    fn bools() {
        for t in ["true", "TRUE", "True", "1", "yes", "YES", "Yes", "是"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "FALSE", "fAlSe", "0", "no", "NO", "否"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in [
            "",
            " true",
            "true ",
            "t",
            "f",
            "y",
            "n",
            "2",
            "01",
            "on",
            "off",
            "ｔｒｕｅ",
        ] {
            assert_eq!(parse_bool(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ints() {
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("-0"), Some(0));
        assert_eq!(parse_int("+42"), Some(42));
        assert_eq!(parse_int("-42"), Some(-42));
        assert_eq!(parse_int("007"), Some(7));
        assert_eq!(parse_int("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
        for bad in [
            "",
            "+",
            "-",
            "+-1",
            "--1",
            " 1",
            "1 ",
            "1.0",
            "1e3",
            "0x10",
            "1_000",
            "９",
            "9223372036854775808",
            "-9223372036854775809",
        ] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn floats() {
        assert_eq!(parse_float("1.5"), Some(1.5));
        assert_eq!(parse_float("-.5"), Some(-0.5));
        assert_eq!(parse_float("5."), Some(5.0));
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float("+2"), Some(2.0));
        assert!(parse_float("inf").unwrap().is_infinite());
        assert!(parse_float("NaN").unwrap().is_nan());
        assert!(parse_float("1e999").unwrap().is_infinite());
        for bad in ["", " 1", "1 ", "1,5", "0x1", "e5", "."] {
            assert_eq!(parse_float(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn render() {
        assert_eq!(render_float(1.0), "1");
        assert_eq!(render_float(0.1), "0.1");
        assert_eq!(render_float(-2.5), "-2.5");
        assert_eq!(render_float(1e21), "1000000000000000000000");
        assert_eq!(render_float(1e-7), "0.0000001");
        assert_eq!(render_float(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(render_float(-0.0), "-0");
    }

    #[test]
    fn float_to_int_range() {
        assert_eq!(float_to_int(1.9), Some(1));
        assert_eq!(float_to_int(-1.9), Some(-1));
        assert_eq!(float_to_int(-0.5), Some(0));
        assert_eq!(float_to_int(9_223_372_036_854_775_808.0), None);
        assert_eq!(float_to_int(-9_223_372_036_854_775_808.0), Some(i64::MIN));
        assert_eq!(
            float_to_int(9_223_372_036_854_774_784.0),
            Some(9_223_372_036_854_774_784)
        );
        assert_eq!(float_to_int(-9_223_372_036_854_777_856.0), None);
        assert_eq!(float_to_int(f64::NAN), None);
        assert_eq!(float_to_int(f64::INFINITY), None);
        assert_eq!(float_to_int(f64::NEG_INFINITY), None);
    }

    #[test]
    fn substrings() {
        assert_eq!(
            substr("某某科技有限公司论坛", 0, 2).as_deref(),
            Some("某某")
        );
        assert_eq!(substr("abc", 1, 1).as_deref(), Some("b"));
        assert_eq!(substr("abc", 1, 10).as_deref(), Some("bc"));
        assert_eq!(substr("abc", 3, 1).as_deref(), Some(""));
        assert_eq!(substr("abc", 99, 1).as_deref(), Some(""));
        assert_eq!(substr("abc", i64::MAX, i64::MAX).as_deref(), Some(""));
        assert_eq!(substr("abc", 0, 0).as_deref(), Some(""));
        assert_eq!(substr("abc", -1, 1), None);
        assert_eq!(substr("abc", 0, -1), None);
        assert_eq!(substr("", 0, 1).as_deref(), Some(""));
    }

    #[test]
    fn lengths() {
        assert_eq!(char_len(""), 0);
        assert_eq!(char_len("abc"), 3);
        assert_eq!(char_len("某某科技有限公司论坛"), 10);
        assert_eq!(char_len("e\u{301}"), 2);
        assert_eq!(char_len("😀"), 1);
    }
}
