//! The SSRF guard's notion of a public address: everything that is not loopback, private,
//! link-local (cloud metadata lives at 169.254.169.254), shared, unique-local, multicast,
//! documentation, reserved or unspecified, including IPv4 addresses embedded in IPv6 forms.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `true` when `ip` is a globally routable unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let blocked = a == 0 // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224; // multicast, reserved, broadcast
    !blocked
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let blocked = (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link local
        || (s[0] & 0xffc0) == 0xfec0 // site local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard-only
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64 (RFC 8215)
        || s[0] == 0; // ::/16: unspecified (::), loopback (::1), IPv4-compatible, reserved
    !blocked
}

/// The IPv4 address inside an IPv4-mapped, NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(from(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(from(s[1], s[2]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn blocks_local_and_private() {
        for ip in [
            "127.0.0.1",
            "127.8.9.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            // The third octet decides: 198.51.0.1 would be public.
            "64:ff9b::c633:6401",
            "2002:c633:6401::",
            "2002:7f00:1::",
            "2001:db8::1",
            "::127.0.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "198.18.0.1",
            "198.19.255.1",
            "198.51.100.7",
            "203.0.113.9",
            "240.0.0.1",
            "100::1",
            "64:ff9b:1::a00:1",
            "fec0::1",
        ] {
            assert!(!public(ip), "{ip} must be refused");
        }
    }

    /// The neighbours of every blocked range are public: each part of each condition matters.
    #[test]
    fn admits_the_neighbours_of_each_blocked_range() {
        for ip in [
            "1.0.0.1",
            "9.255.255.255",
            "11.0.0.1",
            "126.255.255.255",
            "128.0.0.1",
            "100.63.255.255",
            "101.64.0.1",
            "169.253.0.1",
            "169.255.0.1",
            "170.254.0.1",
            "172.15.255.255",
            "173.16.0.1",
            "192.0.1.1",
            "192.1.0.1",
            "193.0.0.1",
            "192.0.3.1",
            "193.0.2.1",
            "192.88.98.1",
            "192.89.99.1",
            "193.88.99.1",
            "192.167.1.1",
            "193.168.1.1",
            "198.17.0.1",
            "198.20.0.1",
            "199.18.0.1",
            "198.51.101.1",
            "198.52.100.1",
            "199.51.100.1",
            "203.0.114.1",
            "203.1.113.1",
            "204.0.113.1",
            "223.255.255.255",
            "100:0:0:1::1",
            "101::1",
            "2001:db9::1",
            "2002:808:808::",
            "64:ff9b::808:808",
            "64:ff9b:2::1",
        ] {
            assert!(public(ip), "{ip} must be allowed");
        }
    }

    #[test]
    fn admits_public() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(public(ip), "{ip} must be allowed");
        }
    }
}
