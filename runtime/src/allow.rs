//! Who may call (`serve --allow-from CIDR`): the local stand-in for Cloud Run's ingress
//! settings and Kubernetes network policies. A request from a source outside every listed
//! block gets 403 `source-not-allowed` and is counted; with no block listed, every source may
//! call.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address block: `ADDR/PREFIX` (IPv4 or IPv6), or one address (a /32 or /128).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in the block. IPv4 addresses seen as IPv4-mapped IPv6 (`::ffff:a.b.c.d`,
    /// a dual-stack listener) count as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| {
            format!(
                "\"{s}\" is not an address block: expected ADDR/PREFIX like 10.0.0.0/8 or fd00::/8"
            )
        })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => {
                    return Err(format!(
                        "\"{s}\": the prefix length must be a whole number from 0 to {max}"
                    ));
                }
            },
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Whether a request from `ip` may call: no block listed, or `ip` in one of them.
pub fn allowed(blocks: &[Cidr], ip: IpAddr) -> bool {
    blocks.is_empty() || blocks.iter().any(|b| b.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn blocks_contain_their_addresses() {
        let b: Cidr = "10.1.0.0/16".parse().expect("block");
        assert!(b.contains(ip("10.1.255.3")));
        assert!(!b.contains(ip("10.2.0.1")));
        assert!(!b.contains(ip("fd00::1")));
        // An IPv4 peer on a dual-stack socket.
        assert!(b.contains(ip("::ffff:10.1.0.9")));
        let one: Cidr = "127.0.0.1".parse().expect("block");
        assert_eq!(one.to_string(), "127.0.0.1/32");
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let all: Cidr = "0.0.0.0/0".parse().expect("block");
        assert!(all.contains(ip("192.0.2.1")));
        let v6: Cidr = "fd00::/8".parse().expect("block");
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(allowed(&[], ip("192.0.2.1")));
        assert!(!allowed(&[one], ip("192.0.2.1")));
    }

    #[test]
    fn bad_blocks_are_refused_with_a_reason() {
        for s in [
            "10.0.0.0/33",
            "10.0.0/8",
            "fd00::/129",
            "x",
            "10.0.0.0/-1",
            "",
        ] {
            let e = s.parse::<Cidr>().expect_err(s);
            assert!(e.contains(s.trim()), "{e}");
        }
    }
}
