//! The nodes' network: a /24 subnet, a bridge in the host namespace holding the host's
//! address (.1), and per node a network namespace joined to the bridge by a veth pair, with
//! its address (.11, .12, …) and NO default route, so nothing run inside can reach beyond
//! the bridge. Names derive from the subnet, so two clusters on two subnets do not collide.

use super::command::run;
use super::ClusterError;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// A private /24 the cluster lives in, given as `A.B.C.0/24` (or `A.B.C`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    octets: [u8; 3],
}

impl Subnet {
    /// The host's address on the bridge.
    pub fn host_ip(&self) -> Ipv4Addr {
        self.ip(1)
    }

    /// Node `n` (1-based): `.10 + n`.
    pub fn node_ip(&self, n: usize) -> Ipv4Addr {
        self.ip(10 + n as u8)
    }

    fn ip(&self, last: u8) -> Ipv4Addr {
        let [a, b, c] = self.octets;
        Ipv4Addr::new(a, b, c, last)
    }

    /// `A.B.C.` — the text every address of the subnet starts with.
    pub fn text_prefix(&self) -> String {
        let [a, b, c] = self.octets;
        format!("{a}.{b}.{c}.")
    }

    /// The prefix of every name made for this subnet, e.g. `rj77-0`.
    pub fn name_prefix(&self) -> String {
        let [_, b, c] = self.octets;
        format!("rj{b}-{c}")
    }

    pub fn bridge_name(&self) -> String {
        format!("{}-br", self.name_prefix())
    }

    /// The network namespace of node `name` (also the name of its veth's host end).
    pub fn netns_name(&self, node: &str) -> String {
        format!("{}-{node}", self.name_prefix())
    }
}

impl Default for Subnet {
    fn default() -> Subnet {
        Subnet {
            octets: [10, 77, 0],
        }
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c] = self.octets;
        write!(f, "{a}.{b}.{c}.0/24")
    }
}

impl FromStr for Subnet {
    type Err = String;

    /// Accepts `A.B.C.0/24` or `A.B.C`, private ranges only (10/8, 172.16/12, 192.168/16).
    fn from_str(text: &str) -> Result<Subnet, String> {
        let bad = || format!("subnet {text}: give a private /24 such as 10.77.0.0/24");
        let base = match text.strip_suffix("/24") {
            Some(address) => address.strip_suffix(".0").ok_or_else(bad)?,
            None => text,
        };
        let parts: Vec<u8> = base
            .split('.')
            .map(|p| p.parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        let octets: [u8; 3] = parts.try_into().map_err(|_| bad())?;
        let private = match octets {
            [10, _, _] => true,
            [172, b, _] => (16..32).contains(&b),
            [192, 168, _] => true,
            _ => false,
        };
        if !private {
            return Err(bad());
        }
        Ok(Subnet { octets })
    }
}

/// Whether a network interface of this name exists in the host namespace.
pub fn link_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// Whether a named network namespace exists.
pub fn netns_exists(name: &str) -> bool {
    std::path::Path::new("/run/netns").join(name).exists()
}

/// Whether any host interface already has an address in `subnet`.
pub fn subnet_in_use(subnet: &Subnet) -> Result<bool, ClusterError> {
    let addresses = run("ip", &["-o", "-4", "addr", "show"])?;
    let needle = format!("inet {}", subnet.text_prefix());
    Ok(addresses.contains(&needle))
}

/// Creates the bridge with the host's address and brings it up.
pub fn create_bridge(subnet: &Subnet) -> Result<(), ClusterError> {
    let bridge = subnet.bridge_name();
    run("ip", &["link", "add", &bridge, "type", "bridge"])?;
    let host = format!("{}/24", subnet.host_ip());
    run("ip", &["addr", "add", &host, "dev", &bridge])?;
    run("ip", &["link", "set", &bridge, "up"])?;
    Ok(())
}

/// Creates a node's namespace (loopback up).
pub fn create_netns(netns: &str) -> Result<(), ClusterError> {
    run("ip", &["netns", "add", netns])?;
    run("ip", &["-n", netns, "link", "set", "lo", "up"])?;
    Ok(())
}

/// Joins `netns` to the bridge: a veth pair, host end `veth` on the bridge, the other end
/// `eth0` inside with `ip`/24. Only the subnet's own route exists inside: no default route.
pub fn connect_netns(
    subnet: &Subnet,
    netns: &str,
    veth: &str,
    ip: Ipv4Addr,
) -> Result<(), ClusterError> {
    let bridge = subnet.bridge_name();
    run(
        "ip",
        &[
            "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns,
        ],
    )?;
    run("ip", &["link", "set", veth, "master", &bridge, "up"])?;
    let address = format!("{ip}/24");
    run("ip", &["-n", netns, "addr", "add", &address, "dev", "eth0"])?;
    run("ip", &["-n", netns, "link", "set", "eth0", "up"])?;
    let routes = run("ip", &["-n", netns, "route", "show", "default"])?;
    if !routes.trim().is_empty() {
        return Err(ClusterError::Failed(format!(
            "namespace {netns} has a default route ({}); refusing to go on",
            routes.trim()
        )));
    }
    Ok(())
}

/// Whether a TCP connection from inside `netns` to `ip:port` opens within 2 s.
pub fn reaches(netns: &str, ip: Ipv4Addr, port: u16) -> bool {
    let target = format!("exec 3<>/dev/tcp/{ip}/{port}");
    run(
        "ip",
        &[
            "netns", "exec", netns, "timeout", "2", "bash", "-c", &target,
        ],
    )
    .is_ok()
}

/// The pids of every process in `netns` (`ip netns pids`).
pub fn netns_pids(netns: &str) -> Result<Vec<u32>, ClusterError> {
    let out = run("ip", &["netns", "pids", netns])?;
    Ok(out.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_parse_and_name_things() {
        let s: Subnet = "10.77.0.0/24".parse().unwrap();
        assert_eq!(s, Subnet::default());
        assert_eq!(s.host_ip(), Ipv4Addr::new(10, 77, 0, 1));
        assert_eq!(s.node_ip(3), Ipv4Addr::new(10, 77, 0, 13));
        assert_eq!(s.bridge_name(), "rj77-0-br");
        assert_eq!(s.netns_name("n2"), "rj77-0-n2");
        assert_eq!(
            "192.168.5".parse::<Subnet>().unwrap().to_string(),
            "192.168.5.0/24"
        );
        assert!("172.20.1.0/24".parse::<Subnet>().is_ok());
        // Names fit Linux's 15-byte interface names even at the widest.
        let wide: Subnet = "10.255.255.0/24".parse().unwrap();
        assert!(wide.netns_name("n50").len() <= 15);
        for bad in [
            "8.8.8.0/24",
            "10.77.0.0/16",
            "10.77",
            "10.77.0.5/24",
            "172.32.0.0/24",
            "x",
        ] {
            assert!(bad.parse::<Subnet>().is_err(), "{bad} must be refused");
        }
    }
}
