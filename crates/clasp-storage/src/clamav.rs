//! The ClamAV adapter of the domain's [`Scanner`] port: streams a stored file to
//! `clamd` with its `INSTREAM` command (`zINSTREAM\0`, then chunks each preceded
//! by its length as a 4-byte big-endian integer, then a zero length), over TCP or
//! a unix socket, and reads the one-line verdict: `stream: OK`,
//! `stream: <signature> FOUND` or `… ERROR`. Chunks go out as the blob store
//! yields them, so a 30 MiB file costs one chunk of memory, not 30 MiB.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use clasp_domain::ports::{BlobReader, ScanError, Scanner, Verdict};
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

/// The longest reply of clamd that is read; a verdict line is far shorter.
const MAX_REPLY_BYTES: u64 = 4096;

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdAddress {
    /// `tcp://HOST:PORT`: clamd's `TCPSocket` (and `TCPAddr`).
    Tcp(String),
    /// `unix:/PATH` (or `unix:///PATH`): clamd's `LocalSocket`.
    Unix(PathBuf),
}

/// A clamd address that is neither `tcp://HOST:PORT` nor `unix:/PATH`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("clamav_address {0:?} is not tcp://HOST:PORT or unix:/PATH")]
pub struct ClamdAddressError(pub String);

impl std::str::FromStr for ClamdAddress {
    type Err = ClamdAddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ClamdAddressError(s.to_owned());
        if let Some(rest) = s.strip_prefix("tcp://") {
            let rest = rest.trim_end_matches('/');
            let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(bad());
            }
            return Ok(Self::Tcp(rest.to_owned()));
        }
        if let Some(rest) = s.strip_prefix("unix:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if !path.starts_with('/') {
                return Err(bad());
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        Err(bad())
    }
}

impl std::fmt::Display for ClamdAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp(host_port) => write!(f, "tcp://{host_port}"),
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Scans files with a running clamd. Every scan opens its own connection (clamd
/// answers one command per connection unless told otherwise) and must finish —
/// connect, send, verdict — within `timeout`, or it is `Unavailable`.
#[derive(Debug, Clone)]
pub struct ClamdScanner {
    address: ClamdAddress,
    timeout: Duration,
}

impl ClamdScanner {
    /// A scanner talking to clamd at `address`, giving up after `timeout`.
    pub fn new(address: ClamdAddress, timeout: Duration) -> Self {
        Self { address, timeout }
    }

    /// Whether clamd answers `PING` with `PONG` within the timeout: a check at
    /// start-up and in tests that the address is right.
    pub async fn ping(&self) -> Result<(), ScanError> {
        let reply = self
            .bounded(async {
                let mut conn = self.connect().await?;
                conn.write_all(b"zPING\0").await.map_err(io("send"))?;
                read_reply(&mut conn).await
            })
            .await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(ScanError::Unavailable(format!(
                "clamd at {} answered PING with {reply:?}",
                self.address
            )))
        }
    }

    async fn bounded<T>(
        &self,
        work: impl Future<Output = Result<T, ScanError>>,
    ) -> Result<T, ScanError> {
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(ScanError::Unavailable(format!(
                    "clamd at {} gave no answer within {} s",
                    self.address,
                    self.timeout.as_secs_f64()
                )))
            })
    }

    async fn connect(&self) -> Result<Connection, ScanError> {
        let failed = |e: std::io::Error| {
            ScanError::Unavailable(format!("cannot connect to clamd at {}: {e}", self.address))
        };
        Ok(match &self.address {
            ClamdAddress::Tcp(host_port) => {
                Box::new(TcpStream::connect(host_port).await.map_err(failed)?)
            }
            ClamdAddress::Unix(path) => Box::new(UnixStream::connect(path).await.map_err(failed)?),
        })
    }
}

#[async_trait]
impl Scanner for ClamdScanner {
    async fn check_ready(&self) -> Result<(), ScanError> {
        self.ping().await
    }

    async fn scan(&self, file: BlobReader) -> Result<Verdict, ScanError> {
        self.bounded(async {
            let mut conn = self.connect().await?;
            instream(&mut conn, file).await
        })
        .await
    }
}

/// A connection to clamd of either kind.
type Connection = Box<dyn AsyncReadWrite + Unpin + Send>;

/// Both halves of a stream socket.
trait AsyncReadWrite: AsyncRead + AsyncWrite {}
impl<T: AsyncRead + AsyncWrite> AsyncReadWrite for T {}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> ScanError {
    move |e| ScanError::Unavailable(format!("clamd connection failed ({what}): {e}"))
}

/// Sends `file` with `INSTREAM` and reads the verdict.
async fn instream(conn: &mut Connection, mut file: BlobReader) -> Result<Verdict, ScanError> {
    conn.write_all(b"zINSTREAM\0").await.map_err(io("send"))?;
    while let Some(chunk) = file.stream.next().await {
        let chunk = chunk?;
        for piece in chunk.chunks(u32::MAX as usize) {
            let len = u32::try_from(piece.len()).unwrap_or(u32::MAX);
            let sent = async {
                conn.write_all(&len.to_be_bytes()).await?;
                conn.write_all(piece).await
            }
            .await;
            if let Err(e) = sent {
                // clamd closes the stream early when it refuses it (above its
                // StreamMaxLength); its reply says why, better than the broken pipe.
                return match read_reply(conn).await {
                    Ok(reply) if !reply.is_empty() => verdict(&reply),
                    _ => Err(io("send")(e)),
                };
            }
        }
    }
    conn.write_all(&0u32.to_be_bytes())
        .await
        .map_err(io("send"))?;
    conn.flush().await.map_err(io("send"))?;
    let reply = read_reply(conn).await?;
    verdict(&reply)
}

/// clamd's reply, up to its terminating NUL (or newline, or end of stream).
async fn read_reply(conn: &mut Connection) -> Result<String, ScanError> {
    let mut reply = Vec::new();
    (&mut *conn)
        .take(MAX_REPLY_BYTES)
        .read_to_end(&mut reply)
        .await
        .map_err(io("receive"))?;
    let end = reply
        .iter()
        .position(|&b| b == 0 || b == b'\n')
        .unwrap_or(reply.len());
    Ok(String::from_utf8_lossy(&reply[..end]).trim().to_owned())
}

/// The verdict a reply line states.
fn verdict(reply: &str) -> Result<Verdict, ScanError> {
    let line = reply.strip_prefix("stream:").unwrap_or(reply).trim();
    if line == "OK" {
        return Ok(Verdict::Clean);
    }
    if let Some(signature) = line.strip_suffix(" FOUND") {
        return Ok(Verdict::Infected {
            signature: signature.trim().to_owned(),
        });
    }
    Err(ScanError::Unavailable(if line.is_empty() {
        "clamd closed the connection without a verdict".to_owned()
    } else {
        format!("clamd answered {line:?}")
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print() {
        let tcp: ClamdAddress = "tcp://127.0.0.1:3310".parse().unwrap();
        assert_eq!(tcp, ClamdAddress::Tcp("127.0.0.1:3310".into()));
        assert_eq!(tcp.to_string(), "tcp://127.0.0.1:3310");
        let unix: ClamdAddress = "unix:/run/clamd.sock".parse().unwrap();
        assert_eq!(unix, ClamdAddress::Unix("/run/clamd.sock".into()));
        assert_eq!(
            "unix:///run/clamd.sock".parse::<ClamdAddress>().unwrap(),
            unix
        );
        for bad in [
            "",
            "127.0.0.1:3310",
            "tcp://host",
            "tcp://:3310",
            "tcp://h:99999",
            "unix:relative",
            "http://h:1",
        ] {
            assert!(bad.parse::<ClamdAddress>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn replies_are_read_as_verdicts() {
        assert_eq!(verdict("stream: OK"), Ok(Verdict::Clean));
        assert_eq!(
            verdict("stream: Eicar-Test-Signature FOUND"),
            Ok(Verdict::Infected {
                signature: "Eicar-Test-Signature".into()
            })
        );
        for bad in [
            "INSTREAM size limit exceeded. ERROR",
            "stream: Can't allocate memory ERROR",
            "",
            "UNKNOWN COMMAND",
        ] {
            assert!(
                matches!(verdict(bad), Err(ScanError::Unavailable(_))),
                "{bad:?}"
            );
        }
    }
}
