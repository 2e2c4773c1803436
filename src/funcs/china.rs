//! Chinese identifiers: resident ID numbers (GB 11643), unified social credit codes (GB 32100),
//! mobile numbers and ICP filing numbers (SPEC §2.5, domain-facts §1, §8).

use chrono::NaiveDate;

/// The province abbreviations used in ICP filing numbers (Sichuan, Guizhou and Gansu use either
/// of two).
pub const ICP_ABBREVIATIONS: &[&str] = &[
    "京", "津", "冀", "晋", "蒙", "辽", "吉", "黑", "沪", "苏", "浙", "皖", "闽", "赣", "鲁", "豫",
    "鄂", "湘", "粤", "桂", "琼", "渝", "川", "蜀", "黔", "贵", "滇", "藏", "陕", "甘", "陇", "青",
    "宁", "新",
];

/// ISO 7064 MOD 11-2 weights for the first 17 digits of a resident ID (2^(17-i) mod 11).
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check characters indexed by the weighted sum mod 11.
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// Whether the first two digits of a resident ID are a province-level code.
fn valid_province_code(code: u32) -> bool {
    matches!(
        code,
        11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81 | 82
    )
}

/// Parses a run of ASCII digits (already checked) as a number.
fn digits_value(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
}

/// An 18-character resident ID: 17 ASCII digits and a check character (0-9 or X, either case) by
/// ISO 7064 MOD 11-2, a province-level region code, and a real birth date from 1800-01-01.
pub fn valid_cn_id(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() != 18 {
        return false;
    }
    let (body, check) = bytes.split_at(17);
    if !body.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let Some(&check) = check.first() else {
        return false;
    };
    let sum: u32 = body
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let Some(&expected) = ID_CHECK.get((sum % 11) as usize) else {
        return false;
    };
    if check.to_ascii_uppercase() != expected {
        return false;
    }
    let (Some(province), Some(year), Some(month), Some(day)) = (
        body.get(0..2),
        body.get(6..10),
        body.get(10..12),
        body.get(12..14),
    ) else {
        return false;
    };
    if !valid_province_code(digits_value(province)) {
        return false;
    }
    let year = digits_value(year);
    if year < 1800 {
        return false;
    }
    let Ok(year) = i32::try_from(year) else {
        return false;
    };
    NaiveDate::from_ymd_opt(year, digits_value(month), digits_value(day)).is_some()
}

/// The GB 32100 alphabet: digits and upper-case letters without I, O, S, V, Z.
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// GB 32100 weights: 3^i mod 31.
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

fn uscc_value(c: u8) -> Option<u32> {
    USCC_ALPHABET
        .iter()
        .position(|&a| a == c)
        .and_then(|p| u32::try_from(p).ok())
}

/// An 18-character unified social credit code over `0-9 A-H J-N P-R T U W-Y` (upper case), the
/// last character the GB 32100 check character of the first 17.
pub fn valid_uscc(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() != 18 {
        return false;
    }
    let mut sum = 0u32;
    for (&c, w) in bytes.iter().zip(USCC_WEIGHTS) {
        let Some(v) = uscc_value(c) else { return false };
        sum += v * w;
    }
    let expected = (31 - sum % 31) % 31;
    bytes.get(17).and_then(|&c| uscc_value(c)) == Some(expected)
}

/// A mainland mobile number: exactly `^1[3-9][0-9]{9}$`.
pub fn valid_cn_mobile(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 11
        && bytes.first() == Some(&b'1')
        && matches!(bytes.get(1), Some(b'3'..=b'9'))
        && bytes.iter().all(u8::is_ascii_digit)
}

/// The abbreviations by their character, sorted for a binary search.
static BY_CHAR: std::sync::LazyLock<Vec<(char, &'static str)>> = std::sync::LazyLock::new(|| {
    let mut v: Vec<(char, &'static str)> = ICP_ABBREVIATIONS
        .iter()
        .filter_map(|a| a.chars().next().map(|c| (c, *a)))
        .collect();
    v.sort_unstable();
    v
});

/// The abbreviation that is the character `c`, if any.
fn abbreviation(c: char) -> Option<&'static str> {
    let i = BY_CHAR.binary_search_by_key(&c, |(k, _)| *k).ok()?;
    BY_CHAR.get(i).map(|(_, a)| *a)
}

/// Splits a filing number `<abbr>ICP备<digits>号[-<digits>]` into the abbreviation and the
/// optional site digits.
fn parse_icp(s: &str) -> Option<(&'static str, Option<&str>)> {
    let first = s.chars().next()?;
    let abbr = abbreviation(first)?;
    let rest = s.get(first.len_utf8()..)?.strip_prefix("ICP备")?;
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if digits_end == 0 {
        return None;
    }
    let rest = rest.get(digits_end..)?.strip_prefix('号')?;
    if rest.is_empty() {
        return Some((abbr, None));
    }
    let site = rest.strip_prefix('-')?;
    if site.is_empty() || !site.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((abbr, Some(site)))
}

/// The province abbreviation of an ICP filing number such as `粤ICP备12345678号-1`, or None when
/// the string is not one (`京ICP证030173号` is a licence number, not a filing number).
pub fn icp_province(s: &str) -> Option<&'static str> {
    parse_icp(s).map(|(abbr, _)| abbr)
}

/// The `-N` website suffix of an ICP filing number; None when absent, when the string is not a
/// filing number, or when N does not fit in an i64.
pub fn icp_site(s: &str) -> Option<i64> {
    parse_icp(s)?.1?.parse::<i64>().ok()
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
    fn cn_id_valid_vectors() {
        for id in [
            "11010519491231002X",
            "11010519491231002x",
            "440524188001010014",
            "440524188001015368",
            "34052419800101001X",
            "53010219200508011X",
        ] {
            assert!(valid_cn_id(id), "{id} should be valid");
        }
    }

    #[test]
    fn cn_id_invalid_vectors() {
        for id in [
            "340524198001010013", // check should be X
            "110105194912310021", // check should be X
            "110105195001010014", // check should be 2
            "110105194913310021", // month 13 (conformance r3)
            "",
            "11010519491231002",
            "11010519491231002XX",
            "11010519491231002Y",
            "1101051949123100２X", // full-width digit
            "A1010519491231002X",
        ] {
            assert!(!valid_cn_id(id), "{id:?} should be invalid");
        }
    }

    /// Builds an ID with the right check digit from 17 digits.
    fn with_check(body: &str) -> String {
        let sum: u32 = body
            .bytes()
            .zip(ID_WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        let c = ID_CHECK[(sum % 11) as usize] as char;
        format!("{body}{c}")
    }

    #[test]
    fn cn_id_province_codes() {
        for (p, ok) in [
            ("11", true),
            ("15", true),
            ("16", false),
            ("20", false),
            ("21", true),
            ("23", true),
            ("24", false),
            ("31", true),
            ("37", true),
            ("38", false),
            ("41", true),
            ("46", true),
            ("47", false),
            ("50", true),
            ("54", true),
            ("55", false),
            ("61", true),
            ("65", true),
            ("66", false),
            ("71", true),
            ("72", false),
            ("81", true),
            ("82", true),
            ("83", false),
            ("00", false),
            ("99", false),
        ] {
            let id = with_check(&format!("{p}010519900101001"));
            assert_eq!(valid_cn_id(&id), ok, "{id}");
        }
    }

    #[test]
    fn cn_id_dates() {
        for (date, ok) in [
            ("18000101", true),
            ("17991231", false),
            ("20000229", true),
            ("19000229", false),
            ("20240229", true),
            ("20230229", false),
            ("19990431", false),
            ("19991231", true),
            ("19990001", false),
            ("19990100", false),
            ("20991231", true),
        ] {
            let id = with_check(&format!("110105{date}001"));
            assert_eq!(valid_cn_id(&id), ok, "{id}");
        }
    }

    #[test]
    fn uscc_valid_vectors() {
        for c in [
            "91310110666007217T",
            "91310115591693856A",
            "91350200776049653A",
            "91350200MA2YJ1XR9G",
            "91440101MA5CJQ4N59",
            "9135021359498494XQ",
            "91350213678251743X",
            "123502001549897397",
            // conformance 11-china-ids: r1 and r3 are valid
            "91350100M000100Y43",
            "91110000802100433B",
        ] {
            assert!(valid_uscc(c), "{c} should be valid");
        }
    }

    #[test]
    fn uscc_invalid_vectors() {
        for c in [
            // early pilot codes that fail the check
            "91350211M00013FA1N",
            "91350100M0001TGQXM",
            "91350211M0000XUF46",
            "91350203M0001FUE2P",
            "91350203M0001QAY9B",
            // conformance 11-china-ids: r2 is invalid
            "91330000MA27U0JG3Q",
            // lower case, wrong length, letters outside the alphabet
            "91350200ma2yj1xr9g",
            "91350200MA2YJ1XR9",
            "91350200MA2YJ1XR9GG",
            "",
            "91350200MA2YJ1XRIG",
            "91350200MA2YJ1XROG",
            "9131011066600721７T",
        ] {
            assert!(!valid_uscc(c), "{c:?} should be invalid");
        }
    }

    #[test]
    fn uscc_pilot_codes_compute_documented_check() {
        // domain-facts §8.2 gives the check character each pilot code would need.
        for (body, check) in [
            ("91350211M00013FA1", '3'),
            ("91350100M0001TGQX", '1'),
            ("91350211M0000XUF4", 'R'),
            ("91350203M0001FUE2", 'J'),
            ("91350203M0001QAY9", '9'),
        ] {
            assert!(valid_uscc(&format!("{body}{check}")), "{body}{check}");
        }
    }

    #[test]
    fn mobile() {
        for (m, ok) in [
            ("13800138000", true),
            ("19912345678", true),
            ("16612345678", true),
            ("12800138000", false),
            ("10800138000", false),
            ("1380013800", false),
            ("138001380000", false),
            ("+8613800138000", false),
            ("23800138000", false),
            ("1380013800a", false),
            ("１3800138000", false),
            ("", false),
        ] {
            assert_eq!(valid_cn_mobile(m), ok, "{m}");
        }
    }

    #[test]
    fn icp_numbers() {
        assert_eq!(icp_province("鄂ICP备2019000001号-1"), Some("鄂"));
        assert_eq!(icp_site("鄂ICP备2019000001号-1"), Some(1));
        assert_eq!(icp_province("粤ICP备12345678号"), Some("粤"));
        assert_eq!(icp_site("粤ICP备12345678号"), None);
        assert_eq!(icp_province("京ICP备16020626号-14"), Some("京"));
        assert_eq!(icp_site("京ICP备16020626号-14"), Some(14));
        assert_eq!(icp_province("蜀ICP备12014244号-2"), Some("蜀"));
        assert_eq!(icp_province("川ICP备09150084号"), Some("川"));
        assert_eq!(icp_province("陇ICP备2021003158号-1"), Some("陇"));
        assert_eq!(icp_province("贵ICP备2021004806号-1"), Some("贵"));
        assert_eq!(icp_province("藏ICP备05000064号"), Some("藏"));
        assert_eq!(icp_site("京ICP备1号-007"), Some(7));
        for bad in [
            "京ICP证030173号",
            "京B2-20090059",
            "云ICP备12345678号",
            "粤ICP备号",
            "粤ICP备12345678",
            "粤ICP备12345678号-",
            "粤ICP备12345678号-a",
            "粤ICP备12345678号-1-2",
            "粤ICP备12345678号 ",
            " 粤ICP备12345678号",
            "粤icp备12345678号",
            "粤ICP备１２号",
            "粤粤ICP备12345678号",
            "ICP备12345678号",
            "",
            "陇ICP备05000593",
        ] {
            assert_eq!(icp_province(bad), None, "{bad:?}");
            assert_eq!(icp_site(bad), None, "{bad:?}");
        }
        assert_eq!(
            icp_site("粤ICP备12345678号-9223372036854775807"),
            Some(i64::MAX)
        );
        assert_eq!(icp_site("粤ICP备12345678号-9223372036854775808"), None);
        assert_eq!(
            icp_province("粤ICP备12345678号-9223372036854775808"),
            Some("粤")
        );
    }

    #[test]
    fn abbreviations() {
        assert_eq!(ICP_ABBREVIATIONS.len(), 34);
        for a in ICP_ABBREVIATIONS {
            assert_eq!(a.chars().count(), 1);
            assert_eq!(icp_province(&format!("{a}ICP备12345678号-3")), Some(*a));
        }
    }
}
