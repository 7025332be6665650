//! A TCP relay that can be cut, to stand between Clasp and a real server and
//! play an outage of it: while down, it has closed every open connection and
//! closes each new one at once.

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A relay to one upstream address, up when started.
pub struct Relay {
    /// Where clients connect, `host:port`.
    pub addr: String,
    up: watch::Sender<bool>,
}

impl Relay {
    /// Relays connections to `upstream` (`host:port`) until the test ends.
    pub async fn start(upstream: &str) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (up, watching) = watch::channel(true);
        let upstream = upstream.to_owned();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut watching = watching.clone();
                if !*watching.borrow() {
                    continue;
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watching.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Relay { addr, up }
    }

    /// Cuts every connection and refuses new ones (`false`), or relays again.
    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}
