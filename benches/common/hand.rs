//! The hand-written baseline: a typed record struct (serde), a flat CSV row struct, and ten of
//! the default pack's rules written directly in Rust on that struct (`benches/ten_rules/` holds
//! the same ten rules as a pack). Null handling follows the engine's semantics (SPEC §2.3) so
//! that both produce the same findings, which the throughput bench checks.
//!
//! The ten rules, in pack order: OC-003, DV-004, DV-007, SA-001, SA-002, SA-003, SA-007,
//! SA-009, AA-001, PR-007.

#![allow(dead_code)]
#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Rule ids in evaluation order (index = `Finding::rule`).
pub const RULE_IDS: [&str; 10] = [
    "OC-003", "DV-004", "DV-007", "SA-001", "SA-002", "SA-003", "SA-007", "SA-009", "AA-001",
    "PR-007",
];

// ---------------------------------------------------------------- lenient scalar types

/// `YYYY-MM-DD`; anything else (or null) is `None`, as the engine makes it null.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Date(pub Option<NaiveDate>);

fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: &[u8]| -> Option<u32> {
        r.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(num(&b[0..4])? as i32, num(&b[5..7])?, num(&b[8..10])?)
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Date;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Date, E> {
                Ok(Date(parse_iso_date(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Date, E> {
                Ok(Date(None))
            }
        }
        d.deserialize_str(V)
    }
}

/// `YYYY-MM-DD HH:MM:SS` (China Standard Time); anything else is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DateTime(pub Option<NaiveDateTime>);

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DateTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a datetime")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DateTime, E> {
                Ok(DateTime(
                    NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S").ok(),
                ))
            }
        }
        d.deserialize_str(V)
    }
}

/// An IP address; an invalid one is `None` (the engine's field error + null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ip(pub Option<IpAddr>);

impl<'de> Deserialize<'de> for Ip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Ip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ip")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ip, E> {
                Ok(Ip(v.parse().ok()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Ip, E> {
                Ok(Ip(None))
            }
        }
        d.deserialize_str(V)
    }
}

// ---------------------------------------------------------------- the typed record

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Subject {
    pub province: Option<String>,
    pub nature: Option<String>,
    pub name: Option<String>,
    pub id_type: Option<String>,
    pub id_no: Option<String>,
    pub leader_name: Option<String>,
    pub leader_mobile: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Website {
    pub filing_no: Option<String>,
    pub name: Option<String>,
    pub domains: Option<Vec<Option<String>>>,
    pub content_type: Option<String>,
    pub status: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DomainFact {
    pub name: Option<String>,
    pub holder_name: Option<String>,
    pub holder_proof: Option<bool>,
    pub filed_at: Option<Date>,
    pub action: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewSubject {
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Order {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub created: Option<Date>,
    pub updated: Option<Date>,
    pub submitted: Option<bool>,
    pub submitted_at: Option<DateTime>,
    pub status: Option<String>,
    pub new_subject: Option<NewSubject>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Audit {
    pub items: Option<Vec<Option<String>>>,
    pub rectify_deadline: Option<Date>,
    pub extension_approved: Option<bool>,
    pub extended_deadline: Option<Date>,
    pub rectified: Option<bool>,
}

/// The fields the ten rules read; every other field of the export is skipped by serde.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Filing {
    pub subject: Option<Subject>,
    pub website: Option<Website>,
    pub domain_facts: Option<Vec<DomainFact>>,
    pub ips: Option<Vec<Ip>>,
    pub order: Option<Order>,
    pub audit: Option<Audit>,
}

/// A flat CSV row (dotted headers; lists `;`-joined).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FlatRow {
    #[serde(rename = "subject.province")]
    pub subject_province: Option<String>,
    #[serde(rename = "subject.nature")]
    pub subject_nature: Option<String>,
    #[serde(rename = "subject.name")]
    pub subject_name: Option<String>,
    #[serde(rename = "subject.id_type")]
    pub subject_id_type: Option<String>,
    #[serde(rename = "subject.id_no")]
    pub subject_id_no: Option<String>,
    #[serde(rename = "subject.leader_name")]
    pub subject_leader_name: Option<String>,
    #[serde(rename = "subject.leader_mobile")]
    pub subject_leader_mobile: Option<String>,
    #[serde(rename = "website.filing_no")]
    pub website_filing_no: Option<String>,
    #[serde(rename = "website.name")]
    pub website_name: Option<String>,
    #[serde(rename = "website.domains")]
    pub website_domains: Option<String>,
    #[serde(rename = "website.content_type")]
    pub website_content_type: Option<String>,
    #[serde(rename = "website.status")]
    pub website_status: Option<String>,
    #[serde(rename = "ips")]
    pub ips: Option<String>,
    #[serde(rename = "order.id")]
    pub order_id: Option<String>,
    #[serde(rename = "order.type")]
    pub order_type: Option<String>,
    #[serde(rename = "order.created")]
    pub order_created: Option<Date>,
    #[serde(rename = "order.updated")]
    pub order_updated: Option<Date>,
    #[serde(rename = "order.submitted")]
    pub order_submitted: Option<bool>,
    #[serde(rename = "order.submitted_at")]
    pub order_submitted_at: Option<DateTime>,
    #[serde(rename = "order.status")]
    pub order_status: Option<String>,
    #[serde(rename = "order.new_subject.name")]
    pub order_new_subject_name: Option<String>,
    #[serde(rename = "audit.items")]
    pub audit_items: Option<String>,
    #[serde(rename = "audit.rectify_deadline")]
    pub audit_rectify_deadline: Option<Date>,
    #[serde(rename = "audit.extension_approved")]
    pub audit_extension_approved: Option<bool>,
    #[serde(rename = "audit.extended_deadline")]
    pub audit_extended_deadline: Option<Date>,
    #[serde(rename = "audit.rectified")]
    pub audit_rectified: Option<bool>,
}

/// A `;`-joined cell as a list (elements trimmed; an empty element is null), like the engine.
fn split_list(cell: Option<String>) -> Option<Vec<Option<String>>> {
    cell.map(|c| {
        c.split(';')
            .map(|p| {
                let p = p.trim();
                (!p.is_empty()).then(|| p.to_string())
            })
            .collect()
    })
}

impl FlatRow {
    /// The nested record (no `domain_facts`: CSV cannot hold lists of objects).
    pub fn into_filing(self) -> Filing {
        Filing {
            subject: Some(Subject {
                province: self.subject_province,
                nature: self.subject_nature,
                name: self.subject_name,
                id_type: self.subject_id_type,
                id_no: self.subject_id_no,
                leader_name: self.subject_leader_name,
                leader_mobile: self.subject_leader_mobile,
            }),
            website: Some(Website {
                filing_no: self.website_filing_no,
                name: self.website_name,
                domains: split_list(self.website_domains),
                content_type: self.website_content_type,
                status: self.website_status,
            }),
            domain_facts: None,
            ips: self
                .ips
                .map(|c| c.split(';').map(|p| Ip(p.trim().parse().ok())).collect()),
            order: Some(Order {
                id: self.order_id,
                kind: self.order_type,
                created: self.order_created,
                updated: self.order_updated,
                submitted: self.order_submitted,
                submitted_at: self.order_submitted_at,
                status: self.order_status,
                new_subject: Some(NewSubject {
                    name: self.order_new_subject_name,
                }),
            }),
            audit: Some(Audit {
                items: split_list(self.audit_items),
                rectify_deadline: self.audit_rectify_deadline,
                extension_approved: self.audit_extension_approved,
                extended_deadline: self.audit_extended_deadline,
                rectified: self.audit_rectified,
            }),
        }
    }
}

// ---------------------------------------------------------------- tables

#[derive(Debug, Deserialize)]
struct OrderTypeRow {
    group: Option<String>,
    overdue_cleanup: Option<bool>,
    domain_scope: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IdTypeRow {
    check: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ProvinceRow {
    name: Option<String>,
}

/// Sorted, merged inclusive ranges of IPv4 and IPv6 addresses.
#[derive(Debug, Default)]
pub struct Cidrs {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl Cidrs {
    fn parse(entries: &[String]) -> Cidrs {
        let mut c = Cidrs::default();
        for e in entries {
            let net: ipnet::IpNet = match e.parse() {
                Ok(n) => n,
                Err(_) => match e.parse::<IpAddr>() {
                    Ok(a) => a.into(),
                    Err(_) => continue,
                },
            };
            match net {
                ipnet::IpNet::V4(n) => c.v4.push((n.network().into(), n.broadcast().into())),
                ipnet::IpNet::V6(n) => c.v6.push((n.network().into(), n.broadcast().into())),
            }
        }
        c.v4.sort_unstable();
        c.v6.sort_unstable();
        c
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        fn find<T: Copy + Ord>(r: &[(T, T)], x: T) -> bool {
            let i = r.partition_point(|&(lo, _)| lo <= x);
            i > 0 && x <= r[i - 1].1
        }
        match ip {
            IpAddr::V4(a) => find(&self.v4, u32::from(a)),
            IpAddr::V6(a) => find(&self.v6, u128::from(a)),
        }
    }
}

/// The tables the ten rules read, loaded from the pack's YAML files.
pub struct Tables {
    order_types: HashMap<String, OrderTypeRow>,
    closed: HashSet<String>,
    id_types: HashMap<String, IdTypeRow>,
    tlds: HashSet<String>,
    company_words: Vec<String>,
    mainland: Cidrs,
    hong_kong: Cidrs,
    provinces: HashMap<String, ProvinceRow>,
}

fn yaml<T: for<'de> Deserialize<'de>>(dir: &Path, name: &str) -> T {
    let path = dir.join(format!("{name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Tables {
    /// Loads from a pack's `tables/` directory.
    pub fn load(dir: &Path) -> Tables {
        let closed: Vec<String> = yaml(dir, "closed_order_statuses");
        let tlds: Vec<String> = yaml(dir, "approved_tlds");
        Tables {
            order_types: yaml(dir, "order_types"),
            closed: closed.into_iter().collect(),
            id_types: yaml(dir, "id_types"),
            tlds: tlds.into_iter().collect(),
            company_words: yaml(dir, "company_words"),
            mainland: Cidrs::parse(&yaml::<Vec<String>>(dir, "mainland_ips")),
            hong_kong: Cidrs::parse(&yaml::<Vec<String>>(dir, "hong_kong_ips")),
            provinces: yaml(dir, "provinces"),
        }
    }
}

// ---------------------------------------------------------------- checks

const ICP_ABBREVIATIONS: &[char] = &[
    '京', '津', '冀', '晋', '蒙', '辽', '吉', '黑', '沪', '苏', '浙', '皖', '闽', '赣', '鲁', '豫',
    '鄂', '湘', '粤', '桂', '琼', '渝', '川', '蜀', '黔', '贵', '滇', '藏', '陕', '甘', '陇', '青',
    '宁', '新',
];

/// The province abbreviation of `<abbr>ICP备<digits>号[-<digits>]`.
pub fn icp_province(s: &str) -> Option<&str> {
    let first = s.chars().next()?;
    if !ICP_ABBREVIATIONS.contains(&first) {
        return None;
    }
    let (abbr, rest) = s.split_at(first.len_utf8());
    let rest = rest.strip_prefix("ICP备")?;
    let n = rest.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return None;
    }
    let rest = rest[n..].strip_prefix('号')?;
    if !rest.is_empty() {
        let site = rest.strip_prefix('-')?;
        if site.is_empty() || !site.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    Some(abbr)
}

const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

fn uscc_value(c: u8) -> Option<u32> {
    Some(match c {
        b'0'..=b'9' => u32::from(c - b'0'),
        b'A'..=b'H' => u32::from(c - b'A') + 10,
        b'J'..=b'N' => u32::from(c - b'J') + 18,
        b'P'..=b'R' => u32::from(c - b'P') + 23,
        b'T' | b'U' => u32::from(c - b'T') + 26,
        b'W'..=b'Y' => u32::from(c - b'W') + 28,
        _ => return None,
    })
}

/// GB 32100 on the upper-cased, trimmed code.
pub fn valid_uscc_upper(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 18 {
        return false;
    }
    let mut sum = 0;
    for (i, &c) in b.iter().enumerate() {
        let Some(v) = uscc_value(c.to_ascii_uppercase()) else {
            return false;
        };
        if i < 17 {
            sum += v * USCC_WEIGHTS[i];
        } else {
            return v == (31 - sum % 31) % 31;
        }
    }
    false
}

/// Xiamen pilot codes: `^[0-9A-Z]{2}35[0-9]{4}M`.
fn xiamen_pilot(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 9
        && b[..2]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        && &b[2..4] == b"35"
        && b[4..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'M'
}

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// GB 11643: 17 digits, check character, province code, birth date.
pub fn valid_cn_id(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    if b[17].to_ascii_uppercase() != b"10X98765432"[(sum % 11) as usize] {
        return false;
    }
    let n = |r: &[u8]| r.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
    let prov = n(&b[0..2]);
    if !matches!(prov, 11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81 | 82) {
        return false;
    }
    let year = n(&b[6..10]);
    year >= 1800 && NaiveDate::from_ymd_opt(year as i32, n(&b[10..12]), n(&b[12..14])).is_some()
}

/// `^1[3-9][0-9]{9}$`.
pub fn valid_cn_mobile(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit)
}

/// The TLD in Unicode (what `tld(domain)` gives).
fn tld(name: &str) -> String {
    let last = name.rsplit('.').next().unwrap_or(name);
    if last.starts_with("xn--") || last.starts_with("XN--") {
        idna::domain_to_unicode(last).0
    } else {
        last.to_lowercase()
    }
}

/// A domain as messages show it (Unicode).
fn shown_domain(name: &str) -> std::borrow::Cow<'_, str> {
    if name.contains("xn--") {
        idna::domain_to_unicode(name).0.into()
    } else {
        name.into()
    }
}

fn norm_parens(s: &str) -> String {
    s.trim().replace('(', "（").replace(')', "）")
}

/// A finding of the hand-written checker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: usize,
    pub element: Option<usize>,
    pub message: String,
    pub deadline: Option<NaiveDate>,
}

fn or_null(s: Option<&str>) -> &str {
    s.unwrap_or("null")
}

fn date_text(d: Option<NaiveDate>) -> String {
    d.map_or_else(|| "null".to_string(), |d| d.format("%Y-%m-%d").to_string())
}

fn days(d: NaiveDate, n: i64) -> NaiveDate {
    d + chrono::Duration::days(n)
}

static NO_SUBJECT: Subject = Subject {
    province: None,
    nature: None,
    name: None,
    id_type: None,
    id_no: None,
    leader_name: None,
    leader_mobile: None,
};
static NO_WEBSITE: Website = Website {
    filing_no: None,
    name: None,
    domains: None,
    content_type: None,
    status: None,
};
static NO_ORDER: Order = Order {
    id: None,
    kind: None,
    created: None,
    updated: None,
    submitted: None,
    submitted_at: None,
    status: None,
    new_subject: None,
};
static NO_AUDIT: Audit = Audit {
    items: None,
    rectify_deadline: None,
    extension_approved: None,
    extended_deadline: None,
    rectified: None,
};

fn date_of(d: Option<Date>) -> Option<NaiveDate> {
    d.and_then(|d| d.0)
}

/// Evaluates the ten rules on one record; pushes findings in rule order, then element order.
pub fn check(f: &Filing, t: &Tables, as_of: NaiveDate, out: &mut Vec<Finding>) {
    let s = f.subject.as_ref().unwrap_or(&NO_SUBJECT);
    let w = f.website.as_ref().unwrap_or(&NO_WEBSITE);
    let o = f.order.as_ref().unwrap_or(&NO_ORDER);
    let a = f.audit.as_ref().unwrap_or(&NO_AUDIT);
    let order_type = o.kind.as_deref().and_then(|k| t.order_types.get(k));
    let open = !t.closed.contains(o.status.as_deref().unwrap_or(""));
    // rectification deadline (special audit, access accuracy)
    let dl = if a.extension_approved == Some(true) && date_of(a.extended_deadline).is_some() {
        date_of(a.extended_deadline)
    } else {
        date_of(a.rectify_deadline)
    };

    // OC-003: order past its 45 days, not submitted
    if order_type.is_some_and(|x| x.overdue_cleanup == Some(true)) && open {
        let submitted = o.submitted == Some(true) || o.submitted_at.is_some_and(|x| x.0.is_some());
        let created = date_of(o.created);
        let age = created.map(|c| (as_of - c).num_days());
        let idle = date_of(o.updated)
            .or(created)
            .map(|u| (as_of - u).num_days());
        if !submitted && (age.is_some_and(|x| x > 45) || idle.is_some_and(|x| x > 45)) {
            out.push(Finding {
                rule: 0,
                element: None,
                message: format!(
                    "{}订单 {} 创建于 {}，已超过45天有效期（{} 天未更新）且未提交管局，系统将删除或已删除该订单",
                    or_null(o.kind.as_deref()),
                    or_null(o.id.as_deref()),
                    date_text(created),
                    idle.map_or_else(|| "null".to_string(), |x| x.to_string()),
                ),
                deadline: created.map(|c| days(c, 45)),
            });
        }
    }

    // DV-004, DV-007: for each domain in the order's verification scope
    if let Some(facts) = &f.domain_facts {
        let scope = order_type.and_then(|x| x.domain_scope.as_deref());
        let d2018 = NaiveDate::from_ymd_opt(2018, 1, 1).unwrap();
        let in_scope = |d: &DomainFact| -> Option<bool> {
            let action = d.action.as_deref();
            if scope == Some("all") || (scope == Some("new") && action == Some("新增")) {
                return Some(true);
            }
            if scope == Some("since_2018") && action != Some("删除") {
                if action == Some("新增") {
                    return Some(true);
                }
                return date_of(d.filed_at).map(|x| x >= d2018);
            }
            Some(false)
        };
        let new_name = o.new_subject.as_ref().and_then(|n| n.name.as_deref());
        // DV-004
        for (i, d) in facts.iter().enumerate() {
            if in_scope(d) == Some(true)
                && open
                && d.holder_name.is_some()
                && s.name.is_some()
                && new_name.is_none()
                && !(s.nature.as_deref() != Some("个人") && d.holder_proof == Some(true))
            {
                let (holder, owner) = (
                    d.holder_name.as_deref().unwrap_or(""),
                    s.name.as_deref().unwrap_or(""),
                );
                if norm_parens(holder) != norm_parens(owner) {
                    out.push(Finding {
                        rule: 1,
                        element: Some(i),
                        message: format!(
                            "域名 {} 的持有者为「{holder}」，与备案主体「{owner}」不一致",
                            d.name.as_deref().map_or("null".into(), shown_domain)
                        ),
                        deadline: None,
                    });
                }
            }
        }
        // DV-007
        for (i, d) in facts.iter().enumerate() {
            if in_scope(d) == Some(true) && open {
                if let Some(name) = d.name.as_deref() {
                    let tld = tld(name);
                    if !t.tlds.contains(&tld) {
                        out.push(Finding {
                            rule: 2,
                            element: Some(i),
                            message: format!(
                                "域名 {} 的顶级域 .{tld} 不在工信部批复的域名体系中，不能用于ICP备案",
                                shown_domain(name)
                            ),
                            deadline: None,
                        });
                    }
                }
            }
        }
    }

    let id_check = s
        .id_type
        .as_deref()
        .and_then(|k| t.id_types.get(k))
        .and_then(|x| x.check.as_deref());
    // SA-001: USCC
    if let Some(id_no) = s.id_no.as_deref() {
        if id_check == Some("uscc") && !xiamen_pilot(id_no) && !valid_uscc_upper(id_no.trim()) {
            out.push(Finding {
                rule: 3,
                element: None,
                message: format!(
                    "主办单位「{}」的证件号码 {id_no} 不是有效的18位统一社会信用代码（字符或校验位不符）",
                    or_null(s.name.as_deref())
                ),
                deadline: dl,
            });
        }
        // SA-002: resident ID
        if id_check == Some("cn_id") && !valid_cn_id(id_no.trim()) {
            out.push(Finding {
                rule: 4,
                element: None,
                message: format!(
                    "主办人「{}」的居民身份证号码 {id_no} 无效（地区码、出生日期或校验位不符）",
                    or_null(s.name.as_deref())
                ),
                deadline: dl,
            });
        }
    }

    // SA-003: subject leader's mobile
    if let Some(mobile) = s.leader_mobile.as_deref() {
        let m = mobile.trim().replace([' ', '-'], "");
        let m = m
            .strip_prefix("+86")
            .or_else(|| m.strip_prefix("0086"))
            .unwrap_or(&m);
        if !valid_cn_mobile(m) {
            out.push(Finding {
                rule: 5,
                element: None,
                message: format!(
                    "主体负责人 {} 的手机号码「{mobile}」不是有效的中国大陆手机号码",
                    or_null(s.leader_name.as_deref())
                ),
                deadline: dl,
            });
        }
    }

    // SA-007: a personal filing running a company site
    if s.nature.as_deref() == Some("个人") {
        let (wn, sn) = (
            w.name.as_deref().unwrap_or(""),
            s.name.as_deref().unwrap_or(""),
        );
        if t.company_words
            .iter()
            .any(|x| wn.contains(x.as_str()) || sn.contains(x.as_str()))
            || w.content_type.as_deref() == Some("单位门户网站")
        {
            out.push(Finding {
                rule: 6,
                element: None,
                message: format!(
                    "个人性质备案（{}）的网站「{}」在名称或服务内容（{}）上体现企业或单位性质",
                    or_null(s.name.as_deref()),
                    or_null(w.name.as_deref()),
                    w.content_type.as_deref().unwrap_or("未填写")
                ),
                deadline: dl,
            });
        }
    }

    // SA-009: rectification overdue
    if let Some(d) = dl {
        if as_of > d && !a.rectified.unwrap_or(false) {
            let items = a.items.as_ref().map_or_else(
                || "问题见通知".to_string(),
                |items| {
                    let mut out = String::new();
                    for (i, x) in items.iter().enumerate() {
                        if i > 0 {
                            out.push('；');
                        }
                        out.push_str(or_null(x.as_deref()));
                    }
                    out
                },
            );
            out.push(Finding {
                rule: 7,
                element: None,
                message: format!(
                    "专项核查整改期已于 {} 届满{}，仍未完成整改（{items}），网站可能被限制访问、取消接入或注销",
                    d.format("%Y-%m-%d"),
                    if a.extension_approved == Some(true) { "（已含批准的延期）" } else { "" }
                ),
                deadline: dl,
            });
        }
    }

    // AA-001: resolves outside the provider's mainland ranges
    if let Some(ips) = &f.ips {
        if matches!(w.status.as_deref(), Some("正常" | "需更新")) {
            for (i, ip) in ips.iter().enumerate() {
                let Some(ip) = ip.0 else { continue };
                if !t.mainland.contains(ip) && !t.hong_kong.contains(ip) {
                    let domains = w.domains.as_ref().map_or_else(
                        || "null".to_string(),
                        |ds| {
                            let mut out = String::new();
                            for (k, d) in ds.iter().enumerate() {
                                if k > 0 {
                                    out.push('、');
                                }
                                out.push_str(&d.as_deref().map_or("null".into(), shown_domain));
                            }
                            out
                        },
                    );
                    let mut message = String::with_capacity(160);
                    let _ = write!(
                        message,
                        "网站「{}」（{domains}）解析到 {ip}，不是接入商的中国内地服务器地址，属于接入信息不准确",
                        or_null(w.name.as_deref())
                    );
                    out.push(Finding {
                        rule: 8,
                        element: Some(i),
                        message,
                        deadline: dl,
                    });
                }
            }
        }
    }

    // PR-007: subject province differs from the filing number's
    if let (Some(sp), Some(no)) = (s.province.as_deref(), w.filing_no.as_deref()) {
        if let Some(from_no) = icp_province(no) {
            let name = |k: &str| {
                t.provinces
                    .get(k)
                    .and_then(|p| p.name.clone())
                    .unwrap_or_else(|| k.to_string())
            };
            let from_name = name(from_no);
            if name(sp) != from_name {
                out.push(Finding {
                    rule: 9,
                    element: None,
                    message: format!(
                        "主体省份填写为「{sp}」，但网站备案号 {no} 属于「{from_name}」"
                    ),
                    deadline: None,
                });
            }
        }
    }
}
