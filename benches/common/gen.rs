//! Deterministic generator of realistic ICP filing exports for the benchmarks.
//!
//! Records follow the schema of `rules/pack.yaml` (one record = one website filing): Chinese
//! subject names (企业 names ending in 有限公司, 个人 names), provinces by filing abbreviation,
//! filing numbers (`粤ICP备2021012345号-1`), ASCII and IDN domains, USCC and resident ID numbers
//! with correct check characters (a few deliberately wrong), mobiles, IPs (mostly in the pack's
//! `mainland_ips` sample ranges), dates around 2026-11-27, orders and special audits. Most
//! records are clean; a few percent fire rules.
//!
//! A fixed-seed xorshift64* drives everything, so the same `n` always gives byte-identical files.
//! Output: JSON Lines (compact, about 560 bytes a record on average) and a flat CSV (dotted
//! headers, `;`-joined lists; `domain_facts` cannot be expressed in CSV and is left out).

#![allow(dead_code)]
#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use chrono::{Duration, NaiveDate};

/// The reference date of the generated data and of every benchmark scan.
pub fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
}

/// The seed of every generated file.
pub const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// Bumped whenever the generator's output changes (cached files are regenerated).
pub const VERSION: u32 = 1;

/// xorshift64* (Vigna): small, fast, deterministic.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64() >> 11) * u128::from(n)) >> 53) as u64
    }

    pub fn range(&mut self, lo: i64, hi_inclusive: i64) -> i64 {
        lo + self.below((hi_inclusive - lo + 1) as u64) as i64
    }

    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A province: filing abbreviation(s), GB 2260 code, a city, a district code and a landline
/// area code; `weight` is its share of filings.
struct Province {
    abbrs: &'static [&'static str],
    code: &'static str,
    city: &'static str,
    district: &'static str,
    area: &'static str,
    weight: u64,
}

#[rustfmt::skip]
const PROVINCES: &[Province] = &[
    Province { abbrs: &["京"], code: "11", city: "北京", district: "0105", area: "010", weight: 9 },
    Province { abbrs: &["津"], code: "12", city: "天津", district: "0101", area: "022", weight: 2 },
    Province { abbrs: &["冀"], code: "13", city: "石家庄", district: "0102", area: "0311", weight: 2 },
    Province { abbrs: &["晋"], code: "14", city: "太原", district: "0105", area: "0351", weight: 1 },
    Province { abbrs: &["蒙"], code: "15", city: "呼和浩特", district: "0102", area: "0471", weight: 1 },
    Province { abbrs: &["辽"], code: "21", city: "沈阳", district: "0102", area: "024", weight: 2 },
    Province { abbrs: &["吉"], code: "22", city: "长春", district: "0102", area: "0431", weight: 1 },
    Province { abbrs: &["黑"], code: "23", city: "哈尔滨", district: "0102", area: "0451", weight: 1 },
    Province { abbrs: &["沪"], code: "31", city: "上海", district: "0115", area: "021", weight: 8 },
    Province { abbrs: &["苏"], code: "32", city: "南京", district: "0102", area: "025", weight: 7 },
    Province { abbrs: &["浙"], code: "33", city: "杭州", district: "0106", area: "0571", weight: 8 },
    Province { abbrs: &["皖"], code: "34", city: "合肥", district: "0104", area: "0551", weight: 2 },
    Province { abbrs: &["闽"], code: "35", city: "福州", district: "0102", area: "0591", weight: 3 },
    Province { abbrs: &["赣"], code: "36", city: "南昌", district: "0102", area: "0791", weight: 1 },
    Province { abbrs: &["鲁"], code: "37", city: "济南", district: "0102", area: "0531", weight: 4 },
    Province { abbrs: &["豫"], code: "41", city: "郑州", district: "0105", area: "0371", weight: 3 },
    Province { abbrs: &["鄂"], code: "42", city: "武汉", district: "0106", area: "027", weight: 5 },
    Province { abbrs: &["湘"], code: "43", city: "长沙", district: "0102", area: "0731", weight: 3 },
    Province { abbrs: &["粤"], code: "44", city: "深圳", district: "0304", area: "0755", weight: 12 },
    Province { abbrs: &["桂"], code: "45", city: "南宁", district: "0102", area: "0771", weight: 1 },
    Province { abbrs: &["琼"], code: "46", city: "海口", district: "0105", area: "0898", weight: 1 },
    Province { abbrs: &["渝"], code: "50", city: "重庆", district: "0103", area: "023", weight: 2 },
    Province { abbrs: &["川", "蜀"], code: "51", city: "成都", district: "0104", area: "028", weight: 4 },
    Province { abbrs: &["黔", "贵"], code: "52", city: "贵阳", district: "0102", area: "0851", weight: 1 },
    Province { abbrs: &["滇"], code: "53", city: "昆明", district: "0102", area: "0871", weight: 1 },
    Province { abbrs: &["藏"], code: "54", city: "拉萨", district: "0102", area: "0891", weight: 1 },
    Province { abbrs: &["陕"], code: "61", city: "西安", district: "0102", area: "029", weight: 2 },
    Province { abbrs: &["甘", "陇"], code: "62", city: "兰州", district: "0102", area: "0931", weight: 1 },
    Province { abbrs: &["青"], code: "63", city: "西宁", district: "0102", area: "0971", weight: 1 },
    Province { abbrs: &["宁"], code: "64", city: "银川", district: "0104", area: "0951", weight: 1 },
    Province { abbrs: &["新"], code: "65", city: "乌鲁木齐", district: "0102", area: "0991", weight: 1 },
];

/// Brand words with their pinyin (domain labels).
#[rustfmt::skip]
const BRANDS: &[(&str, &str)] = &[
    ("晨曦", "chenxi"), ("华信", "huaxin"), ("云帆", "yunfan"), ("青禾", "qinghe"),
    ("楚天", "chutian"), ("汉江", "hanjiang"), ("星辰", "xingchen"), ("蓝海", "lanhai"),
    ("天宇", "tianyu"), ("金桥", "jinqiao"), ("瑞丰", "ruifeng"), ("嘉禾", "jiahe"),
    ("恒通", "hengtong"), ("博远", "boyuan"), ("鼎盛", "dingsheng"), ("联创", "lianchuang"),
    ("智联", "zhilian"), ("新锐", "xinrui"), ("远航", "yuanhang"), ("明德", "mingde"),
    ("光谷", "guanggu"), ("荆楚", "jingchu"), ("长风", "changfeng"), ("海纳", "haina"),
    ("卓越", "zhuoyue"), ("万象", "wanxiang"), ("东方", "dongfang"), ("盛世", "shengshi"),
    ("和美", "hemei"), ("悦享", "yuexiang"), ("启航", "qihang"), ("睿思", "ruisi"),
];

/// Industry words with a short domain tag.
#[rustfmt::skip]
const INDUSTRIES: &[(&str, &str)] = &[
    ("信息技术", "tech"), ("网络科技", "net"), ("农业科技", "agri"), ("文化传播", "media"),
    ("电子商务", "shop"), ("环保科技", "eco"), ("餐饮管理", "food"), ("教育咨询", "edu"),
    ("商贸", "trade"), ("物流", "logi"), ("医疗器械", "med"), ("建筑工程", "build"),
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "欧阳",
];

const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "华", "慧", "建国", "晓梅", "诗琪", "一鸣", "子轩", "雨涵", "浩然", "欣怡", "立",
    "帆", "青禾", "国强",
];

/// Approved TLDs (all in `tables/approved_tlds.yaml`), weighted by repetition.
const TLDS: &[&str] = &[
    "cn", "cn", "cn", "com", "com", "com", "com.cn", "com.cn", "net", "top", "vip", "xyz",
];
const IDN_TLDS: &[&str] = &["中国", "公司", "网络", "网址", "商城"];
const IDN_LABELS: &[&str] = &[
    "例子",
    "云帆科技",
    "楚天茶社",
    "荆楚文旅",
    "汉江商贸",
    "星辰书屋",
];
/// TLDs not approved by MIIT (DV-007).
const BAD_TLDS: &[&str] = &["io", "me", "dev", "app"];

/// The pack's `mainland_ips` sample (IPv4 part), as (base, prefix length).
#[rustfmt::skip]
const MAINLAND_V4: &[([u8; 4], u32)] = &[
    ([39, 96, 0, 0], 13), ([39, 104, 0, 0], 14), ([47, 92, 0, 0], 14), ([47, 96, 0, 0], 14),
    ([47, 100, 0, 0], 14), ([47, 104, 0, 0], 14), ([47, 108, 0, 0], 15), ([47, 112, 0, 0], 14),
    ([101, 132, 0, 0], 15), ([106, 14, 0, 0], 15), ([112, 124, 0, 0], 16), ([114, 55, 0, 0], 16),
    ([115, 28, 0, 0], 15), ([118, 31, 0, 0], 16), ([118, 178, 0, 0], 16), ([120, 24, 0, 0], 14),
    ([120, 55, 0, 0], 16), ([120, 76, 0, 0], 14), ([121, 40, 0, 0], 14), ([121, 196, 0, 0], 14),
    ([123, 56, 0, 0], 15), ([139, 196, 0, 0], 16), ([139, 224, 0, 0], 16), ([182, 92, 0, 0], 16),
];
/// The pack's `hong_kong_ips` sample (AA-002).
const HONG_KONG_V4: &[([u8; 4], u32)] = &[([47, 75, 0, 0], 16), ([8, 210, 0, 0], 16)];
/// Outside every table (AA-001).
const OTHER_V4: &[([u8; 4], u32)] = &[
    ([203, 0, 113, 0], 24),
    ([104, 16, 0, 0], 13),
    ([52, 80, 0, 0], 13),
];

const CONTENT_UNIT: &[&str] = &["单位门户网站", "单位门户网站", "综合门户", "其他", "其他"];
const CONTENT_PERSON: &[&str] = &["博客/个人空间", "其他", "其他", "其他"];
const AUDIT_ITEMS: &[&str] = &[
    "网站语言与实际不符",
    "主体负责人手机号码无法接通",
    "网站内容与备案信息不符",
    "主办单位名称与营业执照不一致",
];
const OPEN_STATUSES: &[&str] = &["待提交", "待提交", "阿里云审核中", "管局审核中", "已驳回"];
/// Order types (keys of `tables/order_types.yaml`), weighted.
const ORDER_TYPES: &[&str] = &[
    "首次备案",
    "首次备案",
    "首次备案",
    "新增网站",
    "新增网站",
    "变更网站",
    "变更网站",
    "变更网站",
    "变更主体",
    "接入备案",
    "注销网站",
    "取消接入",
];

/// One domain's verification facts.
#[derive(Clone, Debug, Default)]
pub struct DomainFact {
    pub name: String,
    pub holder_name: String,
    pub holder_id_no: String,
    pub holder_proof: Option<bool>,
    pub realname_verified: bool,
    pub realname_verified_at: Option<NaiveDate>,
    pub expiry: NaiveDate,
    pub filed_at: Option<NaiveDate>,
    pub action: Option<&'static str>,
}

#[derive(Clone, Debug, Default)]
pub struct Order {
    pub id: String,
    pub kind: &'static str,
    pub created: NaiveDate,
    pub updated: Option<NaiveDate>,
    pub submitted: bool,
    pub submitted_at: Option<String>,
    pub status: &'static str,
    pub new_subject_name: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Audit {
    pub items: Vec<&'static str>,
    pub rectify_deadline: NaiveDate,
    pub extension_approved: Option<bool>,
    pub extended_deadline: Option<NaiveDate>,
    pub rectified: bool,
}

/// One generated filing record (the subset of the schema an export typically fills).
#[derive(Clone, Debug, Default)]
pub struct Record {
    pub subject_filing_no: Option<String>,
    pub province: String,
    pub nature: &'static str,
    pub name: String,
    pub id_type: &'static str,
    pub id_no: String,
    pub legal_rep: Option<String>,
    pub leader_name: String,
    pub leader_mobile: String,
    pub landline: Option<String>,
    pub subject_status: Option<&'static str>,
    pub website_filing_no: Option<String>,
    pub website_name: String,
    pub domains: Vec<String>,
    pub content_type: Option<&'static str>,
    pub website_leader_mobile: Option<String>,
    pub website_status: Option<&'static str>,
    pub approved_at: Option<NaiveDate>,
    pub domain_facts: Vec<DomainFact>,
    pub ips: Vec<String>,
    pub order: Option<Order>,
    pub audit: Option<Audit>,
}

/// GB 32100 alphabet and weights.
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// The GB 32100 check character of a 17-character body.
pub fn uscc_check(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .zip(USCC_WEIGHTS)
        .map(|(c, w)| USCC_ALPHABET.iter().position(|a| a == c).unwrap_or(0) as u32 * w)
        .sum();
    USCC_ALPHABET[((31 - sum % 31) % 31) as usize]
}

/// GB 11643 (ISO 7064 MOD 11-2).
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// The GB 11643 check character of a 17-digit body.
pub fn cn_id_check(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    ID_CHECK[(sum % 11) as usize]
}

/// The record generator: record `i` depends only on the seed and the records before it.
pub struct Generator {
    rng: Rng,
    index: u64,
    province_weights: u64,
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator {
            rng: Rng::new(seed),
            index: 0,
            province_weights: PROVINCES.iter().map(|p| p.weight).sum(),
        }
    }

    fn province(&mut self) -> &'static Province {
        let mut x = self.rng.below(self.province_weights);
        for p in PROVINCES {
            if x < p.weight {
                return p;
            }
            x -= p.weight;
        }
        &PROVINCES[0]
    }

    fn person_name(&mut self) -> String {
        let mut s = String::with_capacity(9);
        let surname = self.rng.pick::<&str>(SURNAMES);
        let given = self.rng.pick::<&str>(GIVEN);
        s.push_str(surname);
        s.push_str(given);
        s
    }

    fn digits(&mut self, out: &mut String, n: usize) {
        for _ in 0..n {
            out.push(char::from(b'0' + self.rng.below(10) as u8));
        }
    }

    fn mobile(&mut self) -> String {
        let mut s = String::with_capacity(11);
        s.push('1');
        s.push(char::from(b'3' + self.rng.below(7) as u8));
        self.digits(&mut s, 9);
        // a few invalid ones (SA-003/SA-004): a digit short, or 12x
        if self.rng.chance(15) {
            if self.rng.chance(500) {
                s.pop();
            } else {
                s.replace_range(1..2, "2");
            }
        }
        s
    }

    fn uscc(&mut self, p: &Province) -> String {
        let mut b = Vec::with_capacity(18);
        b.extend_from_slice(b"91");
        b.extend_from_slice(p.code.as_bytes());
        b.extend_from_slice(p.district.as_bytes());
        b.extend_from_slice(b"MA");
        for _ in 0..7 {
            b.push(*self.rng.pick(&USCC_ALPHABET[..]));
        }
        let mut check = uscc_check(&b);
        if self.rng.chance(15) {
            // wrong check character (SA-001)
            check = USCC_ALPHABET
                [(USCC_ALPHABET.iter().position(|&c| c == check).unwrap_or(0) + 1) % 31];
        }
        b.push(check);
        String::from_utf8(b).unwrap_or_default()
    }

    fn cn_id(&mut self, p: &Province) -> String {
        let mut s = String::with_capacity(18);
        s.push_str(p.code);
        s.push_str(p.district);
        let birth = NaiveDate::from_ymd_opt(1960, 1, 1).unwrap()
            + Duration::days(self.rng.range(0, 16_000));
        let _ = write!(s, "{}", birth.format("%Y%m%d"));
        self.digits(&mut s, 3);
        let mut check = cn_id_check(s.as_bytes());
        if self.rng.chance(15) {
            // wrong check character (SA-002)
            check = if check == b'0' { b'1' } else { b'0' };
        }
        s.push(char::from(check));
        s
    }

    fn ip(&mut self) -> String {
        let table = if self.rng.chance(20) {
            OTHER_V4
        } else if self.rng.chance(8) {
            HONG_KONG_V4
        } else {
            if self.rng.chance(40) {
                return format!("2408:4001::{:x}", self.rng.range(1, 0xfff));
            }
            MAINLAND_V4
        };
        let (base, len) = *self.rng.pick(table);
        let host = self.rng.below(1u64 << (32 - len)) as u32;
        let a = u32::from_be_bytes(base) | host.max(1);
        let o = a.to_be_bytes();
        format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])
    }

    fn date_between(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        from + Duration::days(self.rng.range(0, (to - from).num_days()))
    }

    /// The next record.
    pub fn next_record(&mut self) -> Record {
        self.index += 1;
        let i = self.index;
        let as_of = as_of();
        let p = self.province();
        let abbr = *self.rng.pick(p.abbrs);
        let (brand, brand_py) = *self.rng.pick(BRANDS);
        let (industry, industry_tag) = *self.rng.pick(INDUSTRIES);
        let nature_roll = self.rng.below(100);
        let nature = match nature_roll {
            0..=64 => "企业",
            65..=94 => "个人",
            95..=97 => "事业单位",
            _ => "社会团体",
        };
        let person = nature == "个人";
        let leader = self.person_name();
        let (name, id_type, id_no) = if person {
            (leader.clone(), "居民身份证", self.cn_id(p))
        } else if nature == "企业" {
            (
                format!("{}{brand}{industry}有限公司", p.city),
                "营业执照",
                self.uscc(p),
            )
        } else if nature == "事业单位" {
            (
                format!("{}市{brand}研究中心", p.city),
                "事业单位法人证书",
                self.uscc(p),
            )
        } else {
            (
                format!("{}市{industry}协会", p.city),
                "社会团体法人登记证书",
                self.uscc(p),
            )
        };
        let year = self.rng.range(2012, 2026);
        let mut filing = String::with_capacity(32);
        let _ = write!(filing, "{abbr}ICP备{year}");
        self.digits(&mut filing, 6);
        filing.push('号');
        let site_no = if self.rng.chance(800) {
            1
        } else {
            self.rng.range(2, 5)
        };

        // the current order (about 27% of records)
        let order = self.rng.chance(270).then(|| {
            let kind = *self.rng.pick(ORDER_TYPES);
            let created = self.date_between(as_of - Duration::days(60), as_of);
            let closed = self.rng.chance(150);
            let status = if closed {
                "已完成"
            } else {
                *self.rng.pick(OPEN_STATUSES)
            };
            let submitted = status != "待提交";
            let updated = if self.rng.chance(500) {
                Some(self.date_between(created, as_of))
            } else {
                None
            };
            let mut id = format!("BA{}", created.format("%Y%m%d"));
            self.digits(&mut id, 6);
            Order {
                id,
                kind,
                created,
                updated,
                submitted,
                submitted_at: submitted.then(|| {
                    let d = self.date_between(created, as_of);
                    format!(
                        "{} {:02}:{:02}:00",
                        d.format("%Y-%m-%d"),
                        self.rng.range(8, 20),
                        self.rng.range(0, 59)
                    )
                }),
                status,
                new_subject_name: (kind == "变更主体" && self.rng.chance(300))
                    .then(|| format!("{}{brand}数字科技有限公司", p.city)),
            }
        });
        let first_filing = order.as_ref().is_some_and(|o| o.kind == "首次备案");

        // domains: one (95%) or two
        let n_domains = if self.rng.chance(50) { 2 } else { 1 };
        let mut domains = Vec::with_capacity(n_domains);
        for k in 0..n_domains {
            let d = if self.rng.chance(20) {
                format!("{brand_py}{}.{}", i % 1000, self.rng.pick(BAD_TLDS))
            } else if self.rng.chance(60) {
                format!("{}.{}", self.rng.pick(IDN_LABELS), self.rng.pick(IDN_TLDS))
            } else if k == 1 || self.rng.chance(200) {
                format!("{industry_tag}-{}.{}", i % 100_000, self.rng.pick(TLDS))
            } else {
                format!("{brand_py}-{industry_tag}.{}", self.rng.pick(TLDS))
            };
            domains.push(d);
        }
        let mismatch = self.rng.chance(25);
        // exports often leave the holder's ID number out
        let with_holder_id = self.rng.chance(100);
        // some exports carry no domain facts (no order, facts not collected)
        let with_facts = order.is_some() || !self.rng.chance(150);
        let domain_facts = domains
            .iter()
            .enumerate()
            .map(|(k, d)| {
                let verified = !self.rng.chance(10);
                DomainFact {
                    name: d.clone(),
                    holder_name: if mismatch && k == 0 {
                        if person {
                            format!("{}{brand}商贸有限公司", p.city)
                        } else {
                            leader.clone()
                        }
                    } else {
                        name.clone()
                    },
                    holder_id_no: if with_holder_id {
                        id_no.clone()
                    } else {
                        String::new()
                    },
                    holder_proof: None,
                    realname_verified: verified,
                    realname_verified_at: None,
                    expiry: if self.rng.chance(10) {
                        self.date_between(as_of - Duration::days(90), as_of - Duration::days(1))
                    } else {
                        self.date_between(as_of + Duration::days(60), as_of + Duration::days(1500))
                    },
                    filed_at: order
                        .as_ref()
                        .filter(|o| o.kind.starts_with("变更"))
                        .map(|_| {
                            self.date_between(
                                NaiveDate::from_ymd_opt(2014, 1, 1).unwrap(),
                                as_of - Duration::days(90),
                            )
                        }),
                    action: order.as_ref().map(|o| match o.kind {
                        "新增网站" if k + 1 == n_domains => "新增",
                        "首次备案" => "新增",
                        _ => "保留",
                    }),
                }
            })
            .collect::<Vec<DomainFact>>();
        let domain_facts = if with_facts { domain_facts } else { Vec::new() };

        let n_ips = if self.rng.chance(100) { 2 } else { 1 };
        let ips = (0..n_ips).map(|_| self.ip()).collect();

        let mut province = abbr.to_string();
        if self.rng.chance(8) {
            // subject province that does not match the filing number (PR-007)
            province = self.rng.pick(PROVINCES).abbrs[0].to_string();
        }
        let website_name = if person {
            if self.rng.chance(25) {
                format!("{brand}{}", self.rng.pick(&["工作室", "旗舰店", "官网"]))
            } else {
                format!(
                    "{leader}的{}",
                    self.rng.pick(&["博客", "随笔", "读书笔记", "相册"])
                )
            }
        } else {
            format!(
                "{brand}{}",
                self.rng.pick(&["官网", "科技", "商城", "在线"])
            )
        };
        let content_type = if person {
            Some(if self.rng.chance(15) {
                "单位门户网站"
            } else {
                *self.rng.pick(CONTENT_PERSON)
            })
        } else {
            // units' exports often leave it out
            self.rng.chance(500).then(|| *self.rng.pick(CONTENT_UNIT))
        };
        let leader_mobile = self.mobile();
        let website_leader_mobile = self.rng.chance(400).then(|| self.mobile());
        let status = if self.rng.chance(25) {
            "需更新"
        } else if self.rng.chance(15) {
            "已注销"
        } else {
            "正常"
        };
        let audit = self.rng.chance(60).then(|| {
            let deadline =
                self.date_between(as_of - Duration::days(30), as_of + Duration::days(30));
            let ext = self.rng.chance(200);
            Audit {
                items: vec![*self.rng.pick(AUDIT_ITEMS)],
                rectify_deadline: deadline,
                extension_approved: ext.then_some(true),
                extended_deadline: ext.then(|| deadline + Duration::days(15)),
                rectified: self.rng.chance(500),
            }
        });
        let landline = (!person && self.rng.chance(150)).then(|| {
            let mut s = format!("{}-", p.area);
            self.digits(&mut s, 8);
            s
        });
        Record {
            subject_filing_no: (!first_filing && self.rng.chance(100)).then(|| filing.clone()),
            province,
            nature,
            name,
            id_type,
            id_no,
            legal_rep: (!person && self.rng.chance(200)).then(|| leader.clone()),
            leader_name: leader,
            leader_mobile,
            landline,
            subject_status: (!first_filing).then_some(if status == "已注销" {
                "正常"
            } else {
                status
            }),
            website_filing_no: (!first_filing).then(|| format!("{filing}-{site_no}")),
            website_name,
            domains,
            content_type,
            website_leader_mobile,
            website_status: (!first_filing).then_some(status),
            approved_at: (!first_filing && self.rng.chance(100)).then(|| {
                self.date_between(
                    NaiveDate::from_ymd_opt(2014, 1, 1).unwrap(),
                    as_of - Duration::days(30),
                )
            }),
            domain_facts,
            ips,
            order,
            audit,
        }
    }
}

/// Writes a JSON string literal.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A compact JSON object writer.
struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut String) -> Obj<'a> {
        out.push('{');
        Obj { out, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        json_str(self.out, k);
        self.out.push(':');
    }

    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        json_str(self.out, v);
    }

    fn opt_str(&mut self, k: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.str(k, v);
        }
    }

    fn date(&mut self, k: &str, v: NaiveDate) {
        self.key(k);
        let _ = write!(self.out, "\"{}\"", v.format("%Y-%m-%d"));
    }

    fn opt_date(&mut self, k: &str, v: Option<NaiveDate>) {
        if let Some(v) = v {
            self.date(k, v);
        }
    }

    fn bool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.out.push_str(if v { "true" } else { "false" });
    }

    fn list<S: AsRef<str>>(&mut self, k: &str, items: &[S]) {
        self.key(k);
        self.out.push('[');
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            json_str(self.out, s.as_ref());
        }
        self.out.push(']');
    }

    fn obj(&mut self, k: &str) -> Obj<'_> {
        self.key(k);
        Obj::open(self.out)
    }

    fn close(self) {
        self.out.push('}');
    }
}

/// The flat CSV columns (dotted paths; lists `;`-joined).
pub const CSV_HEADERS: &[&str] = &[
    "subject.filing_no",
    "subject.province",
    "subject.nature",
    "subject.name",
    "subject.id_type",
    "subject.id_no",
    "subject.legal_rep",
    "subject.leader_name",
    "subject.leader_mobile",
    "subject.landline",
    "subject.status",
    "website.filing_no",
    "website.name",
    "website.domains",
    "website.content_type",
    "website.leader_mobile",
    "website.status",
    "website.approved_at",
    "ips",
    "order.id",
    "order.type",
    "order.created",
    "order.updated",
    "order.submitted",
    "order.submitted_at",
    "order.status",
    "order.new_subject.name",
    "audit.items",
    "audit.rectify_deadline",
    "audit.extension_approved",
    "audit.extended_deadline",
    "audit.rectified",
];

fn d(v: NaiveDate) -> String {
    v.format("%Y-%m-%d").to_string()
}

impl Record {
    /// Appends the record as one compact JSON line (with its `\n`).
    pub fn write_json(&self, out: &mut String) {
        let mut root = Obj::open(out);
        {
            let mut s = root.obj("subject");
            s.opt_str("filing_no", self.subject_filing_no.as_deref());
            s.str("province", &self.province);
            s.str("nature", self.nature);
            s.str("name", &self.name);
            s.str("id_type", self.id_type);
            s.str("id_no", &self.id_no);
            s.opt_str("legal_rep", self.legal_rep.as_deref());
            s.str("leader_name", &self.leader_name);
            s.str("leader_mobile", &self.leader_mobile);
            s.opt_str("landline", self.landline.as_deref());
            s.opt_str("status", self.subject_status);
            s.close();
        }
        {
            let mut w = root.obj("website");
            w.opt_str("filing_no", self.website_filing_no.as_deref());
            w.str("name", &self.website_name);
            w.list("domains", &self.domains);
            w.opt_str("content_type", self.content_type);
            w.opt_str("leader_mobile", self.website_leader_mobile.as_deref());
            w.opt_str("status", self.website_status);
            w.opt_date("approved_at", self.approved_at);
            w.close();
        }
        if !self.domain_facts.is_empty() {
            root.key("domain_facts");
            root.out.push('[');
        }
        for (i, f) in self.domain_facts.iter().enumerate() {
            if i > 0 {
                root.out.push(',');
            }
            let mut o = Obj::open(root.out);
            o.str("name", &f.name);
            o.str("holder_name", &f.holder_name);
            if !f.holder_id_no.is_empty() {
                o.str("holder_id_no", &f.holder_id_no);
            }
            if let Some(p) = f.holder_proof {
                o.bool("holder_proof", p);
            }
            o.bool("realname_verified", f.realname_verified);
            o.opt_date("realname_verified_at", f.realname_verified_at);
            o.date("expiry", f.expiry);
            o.opt_date("filed_at", f.filed_at);
            o.opt_str("action", f.action);
            o.close();
        }
        if !self.domain_facts.is_empty() {
            root.out.push(']');
        }
        root.list("ips", &self.ips);
        if let Some(o) = &self.order {
            let mut w = root.obj("order");
            w.str("id", &o.id);
            w.str("type", o.kind);
            w.date("created", o.created);
            w.opt_date("updated", o.updated);
            w.bool("submitted", o.submitted);
            w.opt_str("submitted_at", o.submitted_at.as_deref());
            w.str("status", o.status);
            if let Some(n) = &o.new_subject_name {
                let mut ns = w.obj("new_subject");
                ns.str("name", n);
                ns.close();
            }
            w.close();
        }
        if let Some(a) = &self.audit {
            let mut w = root.obj("audit");
            w.list("items", &a.items);
            w.date("rectify_deadline", a.rectify_deadline);
            if let Some(e) = a.extension_approved {
                w.bool("extension_approved", e);
            }
            w.opt_date("extended_deadline", a.extended_deadline);
            w.bool("rectified", a.rectified);
            w.close();
        }
        root.close();
        out.push('\n');
    }

    /// The record's cells, in [`CSV_HEADERS`] order (empty: null).
    pub fn csv_cells(&self) -> Vec<String> {
        let o = self.order.as_ref();
        let a = self.audit.as_ref();
        let s = |v: Option<&str>| v.unwrap_or_default().to_string();
        let b = |v: bool| if v { "true" } else { "false" }.to_string();
        vec![
            s(self.subject_filing_no.as_deref()),
            self.province.clone(),
            self.nature.to_string(),
            self.name.clone(),
            self.id_type.to_string(),
            self.id_no.clone(),
            s(self.legal_rep.as_deref()),
            self.leader_name.clone(),
            self.leader_mobile.clone(),
            s(self.landline.as_deref()),
            s(self.subject_status),
            s(self.website_filing_no.as_deref()),
            self.website_name.clone(),
            self.domains.join(";"),
            s(self.content_type),
            s(self.website_leader_mobile.as_deref()),
            s(self.website_status),
            self.approved_at.map(d).unwrap_or_default(),
            self.ips.join(";"),
            s(o.map(|o| o.id.as_str())),
            s(o.map(|o| o.kind)),
            o.map(|o| d(o.created)).unwrap_or_default(),
            o.and_then(|o| o.updated).map(d).unwrap_or_default(),
            o.map(|o| b(o.submitted)).unwrap_or_default(),
            s(o.and_then(|o| o.submitted_at.as_deref())),
            s(o.map(|o| o.status)),
            s(o.and_then(|o| o.new_subject_name.as_deref())),
            a.map(|a| a.items.join(";")).unwrap_or_default(),
            a.map(|a| d(a.rectify_deadline)).unwrap_or_default(),
            a.and_then(|a| a.extension_approved)
                .map(b)
                .unwrap_or_default(),
            a.and_then(|a| a.extended_deadline)
                .map(d)
                .unwrap_or_default(),
            a.map(|a| b(a.rectified)).unwrap_or_default(),
        ]
    }
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub records: u64,
    pub jsonl_bytes: u64,
    pub csv_bytes: u64,
}

impl Stats {
    pub fn avg_jsonl(&self) -> f64 {
        self.jsonl_bytes as f64 / self.records.max(1) as f64
    }

    pub fn avg_csv(&self) -> f64 {
        self.csv_bytes as f64 / self.records.max(1) as f64
    }
}

/// Writes `n` records as JSON Lines to `jsonl` and, when given, as CSV to `csv`.
pub fn write_files(n: u64, jsonl: &Path, csv: Option<&Path>) -> io::Result<Stats> {
    write_until(jsonl, csv, |stats| stats.records < n)
}

/// Writes JSON Lines records until the file holds at least `bytes` bytes.
pub fn write_jsonl_bytes(bytes: u64, jsonl: &Path) -> io::Result<Stats> {
    write_until(jsonl, None, |stats| stats.jsonl_bytes < bytes)
}

fn write_until(
    jsonl: &Path,
    csv: Option<&Path>,
    more: impl Fn(&Stats) -> bool,
) -> io::Result<Stats> {
    if let Some(dir) = jsonl.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut j = BufWriter::with_capacity(1 << 20, std::fs::File::create(jsonl)?);
    let mut c = match csv {
        Some(p) => {
            let mut w = csv::WriterBuilder::new()
                .buffer_capacity(1 << 20)
                .from_path(p)
                .map_err(io::Error::other)?;
            w.write_record(CSV_HEADERS).map_err(io::Error::other)?;
            Some(w)
        }
        None => None,
    };
    let mut g = Generator::new(SEED);
    let mut stats = Stats::default();
    let mut line = String::with_capacity(2048);
    while more(&stats) {
        let r = g.next_record();
        line.clear();
        r.write_json(&mut line);
        j.write_all(line.as_bytes())?;
        stats.jsonl_bytes += line.len() as u64;
        if let Some(w) = c.as_mut() {
            w.write_record(r.csv_cells()).map_err(io::Error::other)?;
        }
        stats.records += 1;
    }
    j.flush()?;
    if let Some(mut w) = c {
        w.flush()?;
    }
    if let Some(p) = csv {
        stats.csv_bytes = std::fs::metadata(p)?.len();
    }
    Ok(stats)
}

/// `n` records as JSON Lines text (for in-memory benchmarks).
pub fn jsonl_lines(seed: u64, n: usize) -> Vec<String> {
    let mut g = Generator::new(seed);
    (0..n)
        .map(|_| {
            let mut s = String::new();
            g.next_record().write_json(&mut s);
            s.pop();
            s
        })
        .collect()
}

/// `n` records as CSV cells (for in-memory benchmarks).
pub fn csv_rows(seed: u64, n: usize) -> Vec<Vec<String>> {
    let mut g = Generator::new(seed);
    (0..n).map(|_| g.next_record().csv_cells()).collect()
}
