//! IP addresses and CIDR blocks (SPEC §2.5, §7).

use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IPv4 dotted quad or an IPv6 address in any standard form (std's parser; no trimming, no
/// zone index).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok()
}

/// The canonical text of an address (RFC 5952 for IPv6).
pub fn render_ip(ip: &IpAddr) -> String {
    ip.to_string()
}

/// One CIDR block or single address, host bits cleared, as an inclusive range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    V4(u32, u32),
    V6(u128, u128),
}

/// Parses `addr/len` (host bits ignored) or a single address.
fn parse_block(entry: &str) -> Option<Block> {
    let (addr, len) = match entry.split_once('/') {
        Some((addr, len)) => {
            if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (addr, Some(len.parse::<u8>().ok()?))
        }
        None => (entry, None),
    };
    match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => {
            let net = Ipv4Net::new(a, len.unwrap_or(32)).ok()?;
            Some(Block::V4(
                u32::from(net.network()),
                u32::from(net.broadcast()),
            ))
        }
        IpAddr::V6(a) => {
            let net = Ipv6Net::new(a, len.unwrap_or(128)).ok()?;
            Some(Block::V6(
                u128::from(net.network()),
                u128::from(net.broadcast()),
            ))
        }
    }
}

/// Sorts inclusive ranges and merges overlapping or adjacent ones.
fn merge<T: Copy + Ord + HasSucc>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some(last) if last.1.succ().is_none_or(|next| lo <= next) => {
                if hi > last.1 {
                    last.1 = hi;
                }
            }
            _ => out.push((lo, hi)),
        }
    }
    out
}

trait HasSucc: Sized {
    fn succ(self) -> Option<Self>;
}

impl HasSucc for u32 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
}

impl HasSucc for u128 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
}

/// Whether `x` lies in one of the sorted, disjoint inclusive ranges.
fn in_ranges<T: Copy + Ord>(ranges: &[(T, T)], x: T) -> bool {
    // The last range starting at or before x is the only candidate.
    let i = ranges.partition_point(|&(lo, _)| lo <= x);
    i.checked_sub(1)
        .and_then(|i| ranges.get(i))
        .is_some_and(|&(_, hi)| x <= hi)
}

/// A set of CIDR blocks, matched in O(log n).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CidrSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl CidrSet {
    fn build(blocks: impl IntoIterator<Item = Block>) -> CidrSet {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for b in blocks {
            match b {
                Block::V4(lo, hi) => v4.push((lo, hi)),
                Block::V6(lo, hi) => v6.push((lo, hi)),
            }
        }
        CidrSet {
            v4: merge(v4),
            v6: merge(v6),
        }
    }

    /// A set from CIDR blocks (`47.92.0.0/14`; host bits ignored) or single addresses; the
    /// first entry that is neither is the error.
    ///
    /// # Errors
    ///
    /// A message naming the first bad entry in backticks.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<CidrSet, String> {
        let blocks = entries
            .into_iter()
            .map(|e| parse_block(e).ok_or_else(|| format!("`{e}` is not a CIDR block or address")))
            .collect::<Result<Vec<Block>, String>>()?;
        Ok(CidrSet::build(blocks))
    }

    /// A set from the entries that are CIDR blocks or addresses; the others are skipped.
    pub fn parse_lenient<'a>(entries: impl IntoIterator<Item = &'a str>) -> CidrSet {
        CidrSet::build(entries.into_iter().filter_map(parse_block))
    }

    /// Whether `ip` is in one of the blocks of its own family (an IPv4-mapped IPv6 address is
    /// IPv6).
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => in_ranges(&self.v4, u32::from(*a)),
            IpAddr::V6(a) => in_ranges(&self.v6, u128::from(*a)),
        }
    }

    /// Whether the set has no blocks.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

/// Whether `ip` is in the block `cidr` (host bits ignored; a block of the other family never
/// matches); None when `cidr` is not a CIDR block or address.
pub fn in_cidr(ip: &IpAddr, cidr: &str) -> Option<bool> {
    let block = parse_block(cidr)?;
    Some(match (ip, block) {
        (IpAddr::V4(a), Block::V4(lo, hi)) => (lo..=hi).contains(&u32::from(*a)),
        (IpAddr::V6(a), Block::V6(lo, hi)) => (lo..=hi).contains(&u128::from(*a)),
        _ => false,
    })
}

/// Exactly `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16` and `fc00::/7`.
pub fn is_private(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_private_v4(*a),
        IpAddr::V6(a) => is_private_v6(*a),
    }
}

fn is_private_v4(a: Ipv4Addr) -> bool {
    matches!(a.octets(), [10, ..] | [172, 16..=31, ..] | [192, 168, ..])
}

fn is_private_v6(a: Ipv6Addr) -> bool {
    a.segments().first().is_some_and(|s| s & 0xfe00 == 0xfc00)
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

    fn ip(s: &str) -> IpAddr {
        parse_ip(s).unwrap_or_else(|| panic!("bad test ip {s}"))
    }

    #[test]
    fn parse_and_render() {
        assert_eq!(render_ip(&ip("47.93.1.2")), "47.93.1.2");
        assert_eq!(render_ip(&ip("2408:4001::1")), "2408:4001::1");
        assert_eq!(render_ip(&ip("2408:4001:0:0:0:0:0:1")), "2408:4001::1");
        assert_eq!(render_ip(&ip("2408:4001:0000::0001")), "2408:4001::1");
        assert_eq!(render_ip(&ip("2001:DB8::A")), "2001:db8::a");
        assert_eq!(render_ip(&ip("::")), "::");
        assert_eq!(render_ip(&ip("::1")), "::1");
        assert_eq!(render_ip(&ip("::ffff:1.2.3.4")), "::ffff:1.2.3.4");
        assert_eq!(
            render_ip(&ip("2001:db8:0:1:1:1:1:1")),
            "2001:db8:0:1:1:1:1:1"
        );
        for bad in [
            "300.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.2.3.4 ",
            " 1.2.3.4",
            "1.2.3.4/32",
            "fe80::1%eth0",
            "[::1]",
            "2408:4001::1::2",
            "localhost",
            "",
        ] {
            assert_eq!(parse_ip(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cidr_sets() {
        let set = CidrSet::parse(["47.92.0.0/14", "39.96.0.0/13", "2408:4000::/22"]).unwrap();
        assert!(set.contains(&ip("47.93.1.2")));
        assert!(set.contains(&ip("47.92.0.0")));
        assert!(set.contains(&ip("47.95.255.255")));
        assert!(!set.contains(&ip("47.96.0.0")));
        assert!(!set.contains(&ip("47.91.255.255")));
        assert!(!set.contains(&ip("47.75.10.1")));
        assert!(set.contains(&ip("39.100.0.9")));
        assert!(set.contains(&ip("2408:4001::1")));
        assert!(set.contains(&ip("2408:43ff:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert!(!set.contains(&ip("2408:4400::")));
        assert!(!set.contains(&ip("::ffff:47.93.1.2")), "mapped is IPv6");
        let hk = CidrSet::parse(["47.75.0.0/16"]).unwrap();
        assert!(hk.contains(&ip("47.75.10.1")));
        assert!(!hk.contains(&ip("39.100.0.9")));
    }

    #[test]
    fn host_bits_and_single_addresses() {
        let a = CidrSet::parse(["10.1.2.3/8"]).unwrap();
        let b = CidrSet::parse(["10.0.0.0/8"]).unwrap();
        assert_eq!(a, b);
        assert!(a.contains(&ip("10.255.0.1")));
        let single = CidrSet::parse(["192.0.2.7", "2001:db8::7"]).unwrap();
        assert!(single.contains(&ip("192.0.2.7")));
        assert!(!single.contains(&ip("192.0.2.8")));
        assert!(!single.contains(&ip("192.0.2.6")));
        assert!(single.contains(&ip("2001:db8::7")));
        assert!(!single.contains(&ip("2001:db8::8")));
        let v6 = CidrSet::parse(["2001:db8::1234/32"]).unwrap();
        assert!(v6.contains(&ip("2001:db8:ffff::1")));
        assert!(!v6.contains(&ip("2001:db9::")));
    }

    #[test]
    fn whole_spaces_and_families() {
        let all4 = CidrSet::parse(["1.2.3.4/0"]).unwrap();
        assert!(all4.contains(&ip("0.0.0.0")));
        assert!(all4.contains(&ip("255.255.255.255")));
        assert!(!all4.contains(&ip("::")));
        assert!(!all4.contains(&ip("::ffff:1.2.3.4")));
        let all6 = CidrSet::parse(["::/0"]).unwrap();
        assert!(all6.contains(&ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert!(all6.contains(&ip("::ffff:1.2.3.4")));
        assert!(!all6.contains(&ip("1.2.3.4")));
        let empty = CidrSet::parse([]).unwrap();
        assert!(empty.is_empty());
        assert!(!empty.contains(&ip("1.2.3.4")));
    }

    #[test]
    fn overlapping_and_adjacent_blocks() {
        let set = CidrSet::parse([
            "10.0.0.0/24",
            "10.0.1.0/24",
            "10.0.0.128/25",
            "10.0.3.0/24",
            "9.0.0.0/8",
            "10.0.0.0/16",
            "255.255.255.255/32",
            "255.255.255.0/24",
        ])
        .unwrap();
        assert_eq!(set.v4.len(), 2, "{set:?}");
        assert!(set.contains(&ip("9.1.1.1")));
        assert!(set.contains(&ip("10.0.200.1")));
        assert!(!set.contains(&ip("10.1.0.0")));
        assert!(!set.contains(&ip("8.255.255.255")));
        assert!(set.contains(&ip("255.255.255.255")));
        assert!(!set.contains(&ip("255.255.254.255")));
        // Nested block inside a larger one earlier in sort order.
        let nested = CidrSet::parse(["10.0.0.0/8", "10.5.0.0/16", "11.0.0.0/32"]).unwrap();
        assert!(nested.contains(&ip("10.200.0.0")));
        assert!(nested.contains(&ip("11.0.0.0")));
        assert!(!nested.contains(&ip("11.0.0.1")));
    }

    #[test]
    fn bad_entries() {
        for bad in [
            "300.1.1.1",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "10.0.0.0/ 8",
            " 10.0.0.0/8",
            "10.0.0.0/0008",
            "/8",
            "",
            "example.com",
        ] {
            let err = CidrSet::parse(["1.0.0.0/8", bad]).unwrap_err();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
            assert_eq!(in_cidr(&ip("1.1.1.1"), bad), None, "{bad:?}");
        }
        let lenient = CidrSet::parse_lenient(["300.1.1.1", "47.75.0.0/16", "x"]);
        assert!(lenient.contains(&ip("47.75.1.1")));
        assert!(!lenient.contains(&ip("47.76.1.1")));
        assert_eq!(lenient, CidrSet::parse(["47.75.0.0/16"]).unwrap());
    }

    #[test]
    fn single_block_test() {
        assert_eq!(in_cidr(&ip("47.93.1.2"), "47.92.0.0/14"), Some(true));
        assert_eq!(in_cidr(&ip("47.96.1.2"), "47.92.0.0/14"), Some(false));
        assert_eq!(in_cidr(&ip("10.9.9.9"), "10.1.2.3/8"), Some(true));
        assert_eq!(in_cidr(&ip("10.9.9.9"), "10.9.9.9"), Some(true));
        assert_eq!(in_cidr(&ip("10.9.9.9"), "::/0"), Some(false));
        assert_eq!(in_cidr(&ip("::1"), "0.0.0.0/0"), Some(false));
        assert_eq!(in_cidr(&ip("2408:4001::1"), "2408:4000::/22"), Some(true));
        assert_eq!(in_cidr(&ip("::ffff:10.0.0.1"), "10.0.0.0/8"), Some(false));
        assert_eq!(in_cidr(&ip("::ffff:10.0.0.1"), "::ffff:0:0/96"), Some(true));
    }

    #[test]
    fn private_ranges() {
        for (s, p) in [
            ("10.0.0.0", true),
            ("10.255.255.255", true),
            ("9.255.255.255", false),
            ("11.0.0.0", false),
            ("172.16.0.0", true),
            ("172.31.255.255", true),
            ("172.15.255.255", false),
            ("172.32.0.0", false),
            ("192.168.0.1", true),
            ("192.169.0.1", false),
            ("192.167.255.255", false),
            ("127.0.0.1", false),
            ("169.254.1.1", false),
            ("100.64.0.1", false),
            ("fc00::", true),
            ("fd12:3456::1", true),
            ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
            ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false),
            ("fe00::", false),
            ("fe80::1", false),
            ("::1", false),
            ("::ffff:10.0.0.1", false),
            ("2408:4001::1", false),
        ] {
            assert_eq!(is_private(&ip(s)), p, "{s}");
        }
    }

    #[test]
    fn large_set_is_fast_and_correct() {
        let entries: Vec<String> = (0u32..50_000)
            .map(|i| {
                let a = Ipv4Addr::from(i.wrapping_mul(2_654_435_761) & 0xffff_ff00);
                format!("{a}/24")
            })
            .collect();
        let set = CidrSet::parse(entries.iter().map(String::as_str)).unwrap();
        for i in 0u32..50_000 {
            let base = i.wrapping_mul(2_654_435_761) & 0xffff_ff00;
            assert!(set.contains(&IpAddr::V4(Ipv4Addr::from(base | 0x7f))));
        }
        // Spot check against a linear scan.
        let blocks: Vec<Block> = entries.iter().map(|e| parse_block(e).unwrap()).collect();
        for probe in (0u32..2000).map(|i| i.wrapping_mul(2_147_483_647).rotate_left(7)) {
            let linear = blocks
                .iter()
                .any(|b| matches!(b, Block::V4(lo, hi) if (*lo..=*hi).contains(&probe)));
            assert_eq!(set.contains(&IpAddr::V4(Ipv4Addr::from(probe))), linear);
        }
    }

    #[test]
    fn shareable() {
        fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
        check::<CidrSet>();
    }
}
