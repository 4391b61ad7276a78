//! Where the hub may send events: the rules for a subscription's URL, applied when it is made
//! ([`Destinations::check`]) and on every connection the dispatcher opens ([`GuardedResolver`]).
//!
//! The hub makes requests on a merchant's behalf to a URL the merchant chose, so the URL must
//! not be a way into the hub's own network (server-side request forgery):
//!
//! - `https://`, or `http://` only on a loopback host (`localhost`, `127.0.0.0/8`, `::1`), as
//!   for the hub's public URL: local systems and tests;
//! - no credentials in the URL, no fragment;
//! - the host must not be, or resolve to, a private (`10/8`, `172.16/12`, `192.168/16`,
//!   `100.64/10`, `fc00::/7`), link-local (`169.254/16`, `fe80::/10`), unspecified,
//!   multicast, broadcast or documentation address, unless the operator allows private
//!   networks (`events_allow_private_networks`): a warehouse system on the hub's own LAN.
//!
//! Loopback stays allowed, as the rules above say. Redirects are never followed (a redirect
//! could point anywhere).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// The operator's rule for event destinations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Destinations {
    /// Private-range and link-local addresses are allowed (the operator's setting
    /// `events_allow_private_networks`).
    pub allow_private: bool,
}

/// Why an address is refused, if it is (loopback is allowed: see the module docs).
pub fn refused_address(ip: IpAddr, allow_private: bool) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    if ip.is_loopback() {
        return None;
    }
    let (private, other) = match ip {
        IpAddr::V4(v4) => (private_v4(v4), other_v4(v4)),
        IpAddr::V6(v6) => (private_v6(v6), other_v6(v6)),
    };
    other.or(if allow_private { None } else { private })
}

fn private_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some("a private-network address")
    } else if ip.is_link_local() {
        Some("a link-local address (such as a cloud metadata service)")
    } else {
        None
    }
}

fn other_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("an unspecified address")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Some("a multicast, broadcast or reserved address")
    } else if ip.is_documentation() {
        Some("a documentation address")
    } else {
        None
    }
}

fn private_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if first & 0xfe00 == 0xfc00 {
        Some("a private-network address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else {
        None
    }
}

fn other_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        Some("an unspecified address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip.segments()[0] == 0x2001 && ip.segments()[1] == 0x0db8 {
        Some("a documentation address")
    } else {
        None
    }
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

const ACCEPTED: &str = "give an https:// URL of the warehouse system (http:// is accepted only on \
                        localhost or 127.0.0.1, for a system on this machine)";

impl Destinations {
    /// Checks a subscription URL as given: its form, then every address its host has now.
    /// The message says what is wrong and what is accepted.
    pub async fn check(&self, text: &str) -> Result<Url, String> {
        let url = check_form(text)?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses: Vec<SocketAddr> = match url.host() {
            Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            _ => tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|e| {
                    format!(
                        "the URL's host {host} cannot be resolved ({e}); check the name, or use \
                         the address of the warehouse system"
                    )
                })?
                .collect(),
        };
        for address in &addresses {
            if let Some(reason) = refused_address(address.ip(), self.allow_private) {
                return Err(refusal(&host, address.ip(), reason));
            }
        }
        Ok(url)
    }

    /// The resolver the dispatcher's HTTP client connects through: it drops every refused
    /// address, and fails when none is left, so the rule holds at connection time too.
    pub fn resolver(&self) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver {
            allow_private: self.allow_private,
        })
    }

    /// The check of a URL whose host is an address (the resolver is not asked for those).
    pub fn check_literal(&self, url: &Url) -> Result<(), String> {
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        match refused_address(ip, self.allow_private) {
            Some(reason) => Err(refusal(&ip.to_string(), ip, reason)),
            None => Ok(()),
        }
    }
}

fn refusal(host: &str, ip: IpAddr, reason: &str) -> String {
    format!(
        "the URL's host {host} is {ip}, {reason}: the hub does not send events into private \
         networks; use a public https:// URL, or ask the operator to set \
         events_allow_private_networks if the warehouse system is on the hub's own network"
    )
}

/// The form of a subscription URL: scheme, host, no credentials or fragment.
pub fn check_form(text: &str) -> Result<Url, String> {
    let text = text.trim();
    let url = Url::parse(text).map_err(|e| format!("{text:?} is not a URL ({e}); {ACCEPTED}"))?;
    if url.host().is_none() {
        return Err(format!("{url} has no host; {ACCEPTED}"));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&url) => {}
        "http" => {
            return Err(format!(
                "{url} is plain http on a host that is not this machine; events carry \
                 customers' addresses, so {ACCEPTED}"
            ))
        }
        other => return Err(format!("{url} has the scheme {other}://; {ACCEPTED}")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the URL carries a user name or password; remove them (each event is \
                    signed with the subscription's secret, which the receiver checks)"
                .to_owned(),
        );
    }
    if url.fragment().is_some() {
        return Err("the URL has a #fragment; remove it".to_owned());
    }
    Ok(url)
}

/// A resolver that never yields an address [`refused_address`] refuses.
#[derive(Debug)]
pub struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| refused_address(a.ip(), allow_private).is_none())
                .collect();
            if allowed.is_empty() {
                let reason = all
                    .first()
                    .and_then(|a| refused_address(a.ip(), allow_private).map(|r| (a.ip(), r)));
                let message = match reason {
                    Some((ip, reason)) => refusal(&host, ip, reason),
                    None => format!("{host} has no address"),
                };
                return Err(message.into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str, allow_private: bool) -> bool {
        refused_address(ip.parse().unwrap(), allow_private).is_some()
    }

    #[test]
    fn private_and_link_local_addresses_are_refused_unless_allowed() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(refused(ip, false), "{ip}");
            assert!(!refused(ip, true), "{ip} with private networks allowed");
        }
    }

    #[test]
    fn public_and_loopback_addresses_pass_and_unusable_ones_never_do() {
        for ip in ["93.184.216.34", "2606:4700::1111", "127.0.0.1", "::1"] {
            assert!(!refused(ip, false), "{ip}");
        }
        for ip in ["0.0.0.0", "224.0.0.1", "255.255.255.255", "::", "ff02::1"] {
            assert!(refused(ip, true), "{ip}");
        }
    }

    #[test]
    fn the_url_form_is_https_or_http_on_loopback() {
        assert!(check_form("https://wms.example.com/hooks").is_ok());
        assert!(check_form("http://127.0.0.1:9000/hooks").is_ok());
        assert!(check_form("http://localhost/hooks").is_ok());
        let plain = check_form("http://wms.example.com/hooks").unwrap_err();
        assert!(plain.contains("https://"), "{plain}");
        assert!(check_form("ftp://wms.example.com").is_err());
        assert!(check_form("https://user:pw@wms.example.com").is_err());
        assert!(check_form("not a url").is_err());
    }

    #[tokio::test]
    async fn a_literal_private_address_is_refused_with_the_setting_named() {
        let error = Destinations::default()
            .check("https://10.0.0.5/hooks")
            .await
            .unwrap_err();
        assert!(error.contains("events_allow_private_networks"), "{error}");
        Destinations {
            allow_private: true,
        }
        .check("https://10.0.0.5/hooks")
        .await
        .unwrap();
    }
}
