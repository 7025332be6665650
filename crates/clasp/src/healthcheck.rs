//! `clasp healthcheck`: the probe a container's `HEALTHCHECK`, a systemd
//! watchdog script or an orchestrator's exec probe runs, with the instance's
//! own configuration: `GET /healthz` on `listen` (the process answers), or with
//! `--ready`, `GET /readyz` on `admin_listen` (its database and store answer
//! too). Exit 0 on `200`, 1 otherwise, within five seconds.
//!
//! The request is written by hand: one `GET` over loopback and one status line
//! read back, where an HTTP client crate would bring a TLS stack and a
//! connection pool into the binary for it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::Config;

/// Longest the probe waits for its answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The most of the answer read: its status line is all that counts.
const HEAD_BYTES: u64 = 1024;

/// Probes the instance `config` describes; fails unless it answers `200`.
pub async fn run(config: &Config, ready: bool) -> anyhow::Result<()> {
    let (listen, path) = if ready {
        (&config.admin_listen, "/readyz")
    } else {
        (&config.listen, "/healthz")
    };
    let address = probe_address(listen)?;
    let status = tokio::time::timeout(PROBE_TIMEOUT, status_of(address, path))
        .await
        .with_context(|| format!("{path} on {address}: no answer within {PROBE_TIMEOUT:?}"))?
        .with_context(|| format!("{path} on {address}"))?;
    if status != 200 {
        bail!("{path} on {address} answered {status}");
    }
    println!("ok: {path} on {address}");
    Ok(())
}

/// Where to reach a listener bound to `listen`: an unspecified address (all
/// interfaces) is reached on the loopback of its family.
fn probe_address(listen: &str) -> anyhow::Result<SocketAddr> {
    let mut address: SocketAddr = listen
        .parse()
        .with_context(|| format!("listen address {listen:?} is not IP:PORT"))?;
    if address.ip().is_unspecified() {
        address.set_ip(match address.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    Ok(address)
}

/// The status code of `GET path` on `address`.
async fn status_of(address: SocketAddr, path: &str) -> anyhow::Result<u16> {
    let mut stream = TcpStream::connect(address).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    stream.take(HEAD_BYTES).read_to_end(&mut head).await?;
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    match (words.next(), words.next().map(str::parse::<u16>)) {
        (Some(version), Some(Ok(status))) if version.starts_with("HTTP/") => Ok(status),
        _ => bail!("not an HTTP answer: {:?}", line.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_interfaces_are_probed_on_loopback() {
        assert_eq!(
            probe_address("0.0.0.0:8080").unwrap(),
            "127.0.0.1:8080".parse().unwrap()
        );
        assert_eq!(
            probe_address("[::]:9090").unwrap(),
            "[::1]:9090".parse().unwrap()
        );
        assert_eq!(
            probe_address("10.0.0.5:80").unwrap(),
            "10.0.0.5:80".parse().unwrap()
        );
        assert!(probe_address("localhost:80").is_err());
    }
}
