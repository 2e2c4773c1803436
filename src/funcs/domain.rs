//! Domain names: UTS-46 normalisation and the public suffix list (SPEC §2.5, §3, §7).
//!
//! A [`DomainName`] holds the ASCII (Punycode, lower-case) form, which decides equality, and the
//! Unicode form. Public suffixes come from the ICANN section of the shipped list only.

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use publicsuffix::{List, Psl};
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

/// The shipped public suffix list (both sections; only the ICANN one is used).
const PSL_TEXT: &str = include_str!("../data/public_suffix_list.dat");

/// A valid domain name, normalised by UTS-46, without a trailing dot.
#[derive(Clone, Debug)]
pub struct DomainName {
    ascii: String,
    /// `None` when the Unicode form is the ASCII form (no `xn--` label): one allocation less
    /// for the common domain.
    unicode: Option<String>,
}

impl PartialEq for DomainName {
    fn eq(&self, other: &Self) -> bool {
        self.ascii == other.ascii
    }
}

impl Eq for DomainName {}

impl Hash for DomainName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.ascii.hash(state);
    }
}

impl DomainName {
    /// A domain from a validated ASCII form (no trailing dot).
    fn from_ascii(ascii: String) -> Result<DomainName, String> {
        let (unicode, result) = idna::domain_to_unicode(&ascii);
        match result {
            Ok(()) => Ok(DomainName {
                unicode: (unicode != ascii).then_some(unicode),
                ascii,
            }),
            Err(_) => Err(invalid(&ascii)),
        }
    }

    /// The ASCII form: Punycode for IDN labels, lower case (`xn--fsqu00a.xn--fiqs8s`).
    pub fn ascii(&self) -> &str {
        &self.ascii
    }

    /// The Unicode form (`例子.中国`).
    pub fn unicode(&self) -> &str {
        self.unicode.as_deref().unwrap_or(&self.ascii)
    }

    /// The last label, in Unicode.
    pub fn tld(&self) -> &str {
        let u = self.unicode();
        u.rsplit('.').next().unwrap_or(u)
    }

    /// The labels, in Unicode, left to right.
    pub fn labels(&self) -> Vec<&str> {
        self.unicode().split('.').collect()
    }

    /// Whether any label is an internationalised (`xn--`) label.
    pub fn is_idn(&self) -> bool {
        self.ascii.split('.').any(|l| l.starts_with("xn--"))
    }
}

impl std::fmt::Display for DomainName {
    /// The Unicode form, as messages render domains.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.unicode())
    }
}

fn invalid(s: &str) -> String {
    format!("`{s}` is not a valid domain name")
}

/// UTS-46 `ToASCII`, non-transitional, with STD3 rules, `CheckHyphens` and DNS length checks
/// (each label 1–63 octets, the ASCII name at most 253); a trailing dot is allowed and dropped.
///
/// # Errors
///
/// A lower-case message naming the input in backticks when it is not a valid domain name.
pub fn parse_domain(s: &str) -> Result<DomainName, String> {
    if let Some(fast) = ascii_fast_path(s) {
        return fast;
    }
    let ascii = Uts46::new()
        .to_ascii(
            s.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::Check,
            DnsLength::VerifyAllowRootDot,
        )
        .map_err(|_| invalid(s))?;
    let ascii = ascii.strip_suffix('.').unwrap_or(&ascii);
    if ascii.is_empty() {
        return Err(invalid(s));
    }
    DomainName::from_ascii(ascii.to_owned()).map_err(|_| invalid(s))
}

/// UTS-46 for the common case, decided without the IDNA machinery: an ASCII name with no
/// `xn--` label maps to its lower case, and STD3, CheckHyphens and the DNS lengths reduce to
/// letter-digit-hyphen checks; its Unicode form is itself. `None` sends anything else (non-
/// ASCII, Punycode labels) through `idna`. A unit test compares both paths.
fn ascii_fast_path(s: &str) -> Option<Result<DomainName, String>> {
    let name = s.strip_suffix('.').unwrap_or(s);
    let b = name.as_bytes();
    let mut ok = !b.is_empty() && b.len() <= 253;
    // one pass: characters, and each label when its dot (or the end) is reached
    let mut start = 0;
    for i in 0..=b.len() {
        let c = b.get(i).copied().unwrap_or(b'.');
        if !c.is_ascii() {
            return None;
        }
        if c != b'.' {
            ok &= c.is_ascii_alphanumeric() || c == b'-';
            continue;
        }
        let label = b.get(start..i).unwrap_or_default();
        if label
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"xn--"))
        {
            return None;
        }
        ok &= !label.is_empty()
            && label.len() <= 63
            && label.first() != Some(&b'-')
            && label.last() != Some(&b'-')
            && label.get(2..4) != Some(b"--");
        start = i + 1;
    }
    Some(if ok {
        Ok(DomainName {
            ascii: name.to_ascii_lowercase(),
            unicode: None,
        })
    } else {
        Err(invalid(s))
    })
}

/// The ASCII form of a domain string, or None when it is not a valid domain (for normalising
/// lists of domains).
pub fn normalize_domain_str(s: &str) -> Option<String> {
    parse_domain(s).ok().map(|d| d.ascii)
}

/// The ICANN section of the shipped list: everything before the private section's marker line.
fn icann_section() -> &'static str {
    match PSL_TEXT.find("===BEGIN PRIVATE DOMAINS===") {
        Some(i) => {
            let line_start = PSL_TEXT
                .get(..i)
                .and_then(|head| head.rfind('\n'))
                .unwrap_or(0);
            PSL_TEXT.get(..line_start).unwrap_or(PSL_TEXT)
        }
        None => PSL_TEXT,
    }
}

/// The rule in ASCII form (`*.ck`, `!www.ck` kept as they are, IDN labels in Punycode), or None
/// when a label does not convert.
fn rule_to_ascii(rule: &str) -> Option<String> {
    let (bang, body) = match rule.strip_prefix('!') {
        Some(body) => ("!", body),
        None => ("", rule),
    };
    let labels = body
        .split('.')
        .map(|label| {
            if label == "*" || label.is_ascii() {
                Some(label.to_ascii_lowercase())
            } else {
                idna::domain_to_ascii(label).ok()
            }
        })
        .collect::<Option<Vec<String>>>()?;
    Some(format!("{bang}{}", labels.join(".")))
}

/// The ICANN rules, converted to ASCII so that lookups by ASCII name work whatever the
/// features of the `publicsuffix` crate; built once. None only if the shipped list is broken.
fn list() -> Option<&'static List> {
    static LIST: OnceLock<Option<List>> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut text = String::from("// ===BEGIN ICANN DOMAINS===\n");
        for line in icann_section().lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with("//") {
                continue;
            }
            let rule = line.split_whitespace().next().unwrap_or(line);
            if let Some(ascii) = rule_to_ascii(rule) {
                text.push_str(&ascii);
                text.push('\n');
            }
        }
        text.parse::<List>().ok()
    })
    .as_ref()
}

/// The length in bytes of the public suffix at the end of an ASCII name (the default rule `*`
/// makes an unlisted TLD its own suffix).
fn suffix_len(ascii: &str) -> usize {
    let tld_len = ascii.rsplit('.').next().map_or(0, str::len);
    match list() {
        Some(list) => {
            let len = list.find(ascii.as_bytes().rsplit(|b| *b == b'.')).len;
            if len == 0 {
                tld_len
            } else {
                len
            }
        }
        None => tld_len,
    }
}

/// The ASCII public suffix of `d`.
fn suffix_ascii(d: &DomainName) -> &str {
    let len = suffix_len(&d.ascii);
    d.ascii
        .get(d.ascii.len().saturating_sub(len)..)
        .unwrap_or(&d.ascii)
}

/// The public suffix of `d` by the public suffix algorithm over the ICANN section of the shipped
/// list, with the default rule `*`; in Unicode (`com.cn`, `中国`).
pub fn suffix(d: &DomainName) -> String {
    idna::domain_to_unicode(suffix_ascii(d)).0
}

/// The public suffix plus one label (`example.com.cn`), or None when `d` is itself a public
/// suffix.
pub fn registrable(d: &DomainName) -> Option<DomainName> {
    let suffix = suffix_ascii(d);
    let head = d.ascii.strip_suffix(suffix)?.strip_suffix('.')?;
    let label = head.rsplit('.').next()?;
    DomainName::from_ascii(format!("{label}.{suffix}")).ok()
}

/// The `// VERSION:` of the shipped public suffix list (`2026-10-22_08-36-41_UTC`).
pub fn psl_version() -> &'static str {
    PSL_TEXT
        .lines()
        .find_map(|l| l.strip_prefix("// VERSION:"))
        .map_or("unknown", str::trim)
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
    use std::collections::HashSet;

    fn dom(s: &str) -> DomainName {
        parse_domain(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn valid_names() {
        let d = dom("例子.中国");
        assert_eq!(d.ascii(), "xn--fsqu00a.xn--fiqs8s");
        assert_eq!(d.unicode(), "例子.中国");
        assert_eq!(d.tld(), "中国");
        assert_eq!(d.labels(), vec!["例子", "中国"]);
        assert!(d.is_idn());

        let d = dom("EXAMPLE.com.");
        assert_eq!(d.ascii(), "example.com");
        assert_eq!(d.unicode(), "example.com");
        assert!(!d.is_idn());

        let d = dom("www.Example.com.cn");
        assert_eq!(d.ascii(), "www.example.com.cn");
        assert_eq!(d.tld(), "cn");
        assert_eq!(d.labels(), vec!["www", "example", "com", "cn"]);

        assert_eq!(dom("shop.example.xyz.").ascii(), "shop.example.xyz");
        // Punycode input is decoded for the Unicode form; upper-case Punycode is normalised.
        let d = dom("XN--FSQU00A.xn--fiqs8s");
        assert_eq!(d.ascii(), "xn--fsqu00a.xn--fiqs8s");
        assert_eq!(d.unicode(), "例子.中国");
        // Full-width letters and the ideographic full stop map by UTS-46.
        assert_eq!(dom("ＥＸＡＭＰＬＥ。ｃｏｍ").ascii(), "example.com");
        assert_eq!(dom("例子。中国。").ascii(), "xn--fsqu00a.xn--fiqs8s");
        // Non-transitional: ß is kept, not mapped to ss.
        assert_eq!(dom("faß.de").ascii(), "xn--fa-hia.de");
        assert_eq!(dom("faß.de").unicode(), "faß.de");
        // Mixed ASCII and IDN labels.
        let d = dom("www.例子.com");
        assert_eq!(d.ascii(), "www.xn--fsqu00a.com");
        assert_eq!(d.tld(), "com");
        assert!(d.is_idn());
        // Single labels, digits, inner hyphens.
        assert_eq!(dom("localhost").ascii(), "localhost");
        assert_eq!(dom("a-b.c0m").ascii(), "a-b.c0m");
        assert_eq!(dom("123.com").ascii(), "123.com");
        // Length limits: 63-octet labels, 253-octet names.
        let l63 = "a".repeat(63);
        assert!(parse_domain(&format!("{l63}.com")).is_ok());
        let name253 = format!("{l63}.{l63}.{l63}.{}", "a".repeat(61));
        assert_eq!(name253.len(), 253);
        assert!(parse_domain(&name253).is_ok());
        assert!(parse_domain(&format!("{name253}.")).is_ok());
    }

    #[test]
    fn invalid_names() {
        let l63 = "a".repeat(63);
        let name254 = format!("{l63}.{l63}.{l63}.{}", "a".repeat(62));
        for bad in [
            "exa mple.com",
            "a..b.com",
            "",
            ".",
            "..",
            "example.com..",
            ".example.com",
            "-a.com",
            "a-.com",
            "ab--cd.com",
            "a_b.com",
            "a/b.com",
            "a:b.com",
            "例子.中国 ",
            " example.com",
            "xn--abc-.com",
            "xn--zz.com",
            "a\u{200d}.com",
            &format!("{}.com", "a".repeat(64)),
            &name254,
        ] {
            assert!(parse_domain(bad).is_err(), "{bad:?} should be invalid");
        }
        assert_eq!(
            parse_domain("exa mple.com").unwrap_err(),
            "`exa mple.com` is not a valid domain name"
        );
        assert_eq!(normalize_domain_str("a..b.com"), None);
        assert_eq!(
            normalize_domain_str("WWW.例子.中国.").as_deref(),
            Some("www.xn--fsqu00a.xn--fiqs8s")
        );
    }

    #[test]
    fn idn_labels_count_octets_in_ascii() {
        // 20 CJK characters are 20 characters but a longer Punycode label.
        let long = "例".repeat(30);
        let d = parse_domain(&format!("{long}.cn"));
        // Each label is checked in its ASCII form.
        let ascii_len = idna::domain_to_ascii(&long).unwrap().len();
        assert_eq!(d.is_ok(), ascii_len <= 63, "{ascii_len}");
    }

    #[test]
    fn equality_and_hash_by_ascii() {
        let a = dom("例子.中国");
        let b = dom("xn--fsqu00a.xn--fiqs8s.");
        assert_eq!(a, b);
        let set: HashSet<DomainName> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_eq!(dom("Example.COM").to_string(), "example.com");
    }

    #[test]
    fn suffixes() {
        for (name, suf, reg) in [
            ("www.example.com.cn", "com.cn", Some("example.com.cn")),
            ("example.com.cn", "com.cn", Some("example.com.cn")),
            ("com.cn", "com.cn", None),
            ("cn", "cn", None),
            ("例子.中国", "中国", Some("例子.中国")),
            ("www.例子.中国", "中国", Some("例子.中国")),
            ("中国", "中国", None),
            ("xn--fiqs8s", "中国", None),
            ("shop.example.xyz", "xyz", Some("example.xyz")),
            ("www.example.com", "com", Some("example.com")),
            // Private section ignored.
            ("foo.github.io", "io", Some("github.io")),
            ("bar.foo.github.io", "io", Some("github.io")),
            ("foo.blogspot.com", "com", Some("blogspot.com")),
            ("x.s3.amazonaws.com", "com", Some("amazonaws.com")),
            // Unlisted TLDs use the default rule.
            ("www.example.notatld", "notatld", Some("example.notatld")),
            ("notatld", "notatld", None),
            ("localhost", "localhost", None),
            // Wildcard and exception rules (*.ck, !www.ck; *.kawasaki.jp, !city.kawasaki.jp).
            ("www.ck", "ck", Some("www.ck")),
            ("a.www.ck", "ck", Some("www.ck")),
            ("foo.ck", "foo.ck", None),
            ("a.foo.ck", "foo.ck", Some("a.foo.ck")),
            ("b.a.foo.ck", "foo.ck", Some("a.foo.ck")),
            ("ck", "ck", None),
            ("city.kawasaki.jp", "kawasaki.jp", Some("city.kawasaki.jp")),
            (
                "www.city.kawasaki.jp",
                "kawasaki.jp",
                Some("city.kawasaki.jp"),
            ),
            ("foo.kawasaki.jp", "foo.kawasaki.jp", None),
            (
                "a.foo.kawasaki.jp",
                "foo.kawasaki.jp",
                Some("a.foo.kawasaki.jp"),
            ),
            // No rule for kawasaki.jp itself: `*.kawasaki.jp` needs three labels.
            ("kawasaki.jp", "jp", Some("kawasaki.jp")),
            // Deeper ICANN rules.
            ("a.b.ide.kyoto.jp", "ide.kyoto.jp", Some("b.ide.kyoto.jp")),
            ("www.example.co.uk", "co.uk", Some("example.co.uk")),
            ("example.uk", "uk", Some("example.uk")),
            // IDN suffixes listed in Unicode.
            ("www.例子.公司.cn", "公司.cn", Some("例子.公司.cn")),
            ("www.例子.网络.cn", "网络.cn", Some("例子.网络.cn")),
            ("例子.中國", "中國", Some("例子.中國")),
            ("例子.香港", "香港", Some("例子.香港")),
            ("例子.公司.香港", "公司.香港", Some("例子.公司.香港")),
            // Case and trailing dot do not matter.
            ("WWW.EXAMPLE.COM.CN.", "com.cn", Some("example.com.cn")),
        ] {
            let d = dom(name);
            assert_eq!(suffix(&d), suf, "suffix of {name}");
            assert_eq!(
                registrable(&d).map(|r| r.unicode().to_owned()).as_deref(),
                reg,
                "registrable of {name}"
            );
        }
        let r = registrable(&dom("www.例子.中国")).unwrap();
        assert_eq!(r.ascii(), "xn--fsqu00a.xn--fiqs8s");
        assert!(r.is_idn());
    }

    #[test]
    fn list_builds_from_icann_section_only() {
        assert!(list().is_some());
        let icann = icann_section();
        assert!(icann.contains("===BEGIN ICANN DOMAINS==="));
        assert!(!icann.contains("BEGIN PRIVATE DOMAINS"));
        assert!(!icann.contains("github.io"));
        assert!(PSL_TEXT.contains("github.io"));
    }

    #[test]
    fn shareable() {
        fn check<T: Send + Sync + Clone + std::fmt::Debug + Eq + Hash>() {}
        check::<DomainName>();
    }

    #[test]
    fn version() {
        assert_eq!(psl_version(), "2026-10-22_08-36-41_UTC");
    }

    /// The public suffix algorithm as publicsuffix.org states it, over ASCII rules.
    struct Reference {
        rules: HashSet<String>,
        wildcards: HashSet<String>,
        exceptions: HashSet<String>,
    }

    impl Reference {
        fn new() -> Reference {
            let mut r = Reference {
                rules: HashSet::new(),
                wildcards: HashSet::new(),
                exceptions: HashSet::new(),
            };
            for line in icann_section().lines() {
                let line = line.trim();
                if line.is_empty() || line.starts_with("//") {
                    continue;
                }
                let rule = rule_to_ascii(line.split_whitespace().next().unwrap()).unwrap();
                if let Some(e) = rule.strip_prefix('!') {
                    r.exceptions.insert(e.to_owned());
                } else if let Some(w) = rule.strip_prefix("*.") {
                    r.wildcards.insert(w.to_owned());
                } else {
                    assert!(!rule.contains('*'), "{rule}");
                    r.rules.insert(rule);
                }
            }
            r
        }

        fn suffix<'a>(&self, name: &'a str) -> &'a str {
            let labels: Vec<&str> = name.split('.').collect();
            let tail = |k: usize| -> &'a str {
                let skip: usize = labels[..labels.len() - k].iter().map(|l| l.len() + 1).sum();
                &name[skip..]
            };
            let mut best = 1; // the default rule `*`
            for k in 1..=labels.len() {
                let s = tail(k);
                if self.exceptions.contains(s) {
                    return tail(k - 1);
                }
                if self.rules.contains(s) || (k >= 2 && self.wildcards.contains(tail(k - 1))) {
                    best = k;
                }
            }
            tail(best)
        }
    }

    #[test]
    fn crate_agrees_with_reference_on_every_rule() {
        let reference = Reference::new();
        let mut names: Vec<String> = Vec::new();
        let all = reference
            .rules
            .iter()
            .chain(&reference.wildcards)
            .chain(&reference.exceptions);
        for rule in all {
            for prefix in ["", "x.", "a.x.", "www.", "a.b.c."] {
                names.push(format!("{prefix}{rule}"));
            }
            // Every tail of the rule under labels the list does not hold, so that a path into
            // the rule tree that ends without a rule is exercised too.
            let mut tail = rule.as_str();
            while let Some((_, rest)) = tail.split_once('.') {
                names.push(format!("zz.{rest}"));
                names.push(format!("yy.zz.{rest}"));
                tail = rest;
            }
        }
        let mut checked = 0;
        for name in &names {
            let Ok(d) = parse_domain(name) else {
                continue;
            };
            assert_eq!(suffix_ascii(&d), reference.suffix(d.ascii()), "{name}");
            checked += 1;
        }
        assert!(checked > 30_000, "{checked}");
    }

    /// The ASCII fast path agrees with `idna` on every ASCII input it accepts or refuses.
    #[test]
    fn ascii_fast_path_agrees_with_idna() {
        let slow = |s: &str| -> Result<String, ()> {
            let ascii = Uts46::new()
                .to_ascii(
                    s.as_bytes(),
                    AsciiDenyList::STD3,
                    Hyphens::Check,
                    DnsLength::VerifyAllowRootDot,
                )
                .map_err(|_| ())?;
            let ascii = ascii.strip_suffix('.').unwrap_or(&ascii).to_string();
            if ascii.is_empty() {
                return Err(());
            }
            Ok(ascii)
        };
        let mut samples: Vec<String> = [
            "a.com",
            "A.COM.",
            "www.Example.com.cn",
            "a..b.com",
            ".",
            "",
            "-a.com",
            "a-.com",
            "ab--c.com",
            "a--b.com",
            "exa mple.com",
            "a_b.com",
            "1.2.3.4",
            "com",
            "a.b.c.d.e",
            "..",
            "a.",
            "A-B.C-D",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        samples.push(format!("{}.com", "a".repeat(63)));
        samples.push(format!("{}.com", "a".repeat(64)));
        samples.push(vec!["abcdefghi"; 25].join("."));
        samples.push(vec!["abcdefghi"; 26].join("."));
        // every short string over a small alphabet
        let alphabet = ['a', 'Z', '0', '-', '.', '_'];
        let mut stack = vec![String::new()];
        while let Some(cur) = stack.pop() {
            samples.push(cur.clone());
            if cur.len() < 5 {
                for c in alphabet {
                    stack.push(format!("{cur}{c}"));
                }
            }
        }
        for s in &samples {
            let Some(fast) = ascii_fast_path(s) else {
                continue;
            };
            let fast = fast.map(|d| d.ascii().to_string()).map_err(|_| ());
            assert_eq!(fast, slow(s), "{s:?}");
        }
    }
}
