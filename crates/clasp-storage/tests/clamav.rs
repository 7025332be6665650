//! The ClamAV adapter against a real clamd, started by `scripts/clamav.sh up`
//! (which `scripts/test.sh` runs) with a database holding one signature, for the
//! EICAR test string.

use std::time::{Duration, Instant};

use bytes::Bytes;
use clasp_domain::ports::{BlobError, BlobReader, ScanError, Scanner, Verdict};
use clasp_storage::{ClamdAddress, ClamdScanner};

/// The EICAR anti-virus test file: harmless, detected by every scanner.
const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// What `scripts/clamav.sh` names the EICAR signature it writes.
const EICAR_SIGNATURE: &str = "Clasp.Test.EICAR.UNOFFICIAL";

fn address(var: &str) -> ClamdAddress {
    let value = std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: these tests need clamd; run them through ./scripts/test.sh, \
             or eval \"$(scripts/clamav.sh up)\" first"
        )
    });
    value.parse().unwrap_or_else(|e| panic!("{var}: {e}"))
}

fn scanners() -> Vec<ClamdScanner> {
    ["CLASP_TEST_CLAMAV_TCP", "CLASP_TEST_CLAMAV_SOCKET"]
        .into_iter()
        .map(|var| ClamdScanner::new(address(var), Duration::from_secs(30)))
        .collect()
}

/// `chunks` as a stored file would stream them.
fn reader(chunks: Vec<Bytes>) -> BlobReader {
    let size = chunks.iter().map(|c| c.len() as u64).sum();
    BlobReader {
        size,
        stream: Box::pin(futures::stream::iter(chunks.into_iter().map(Ok))),
    }
}

#[tokio::test]
async fn clean_files_are_clean_and_eicar_is_found_over_tcp_and_the_unix_socket() {
    for scanner in scanners() {
        scanner.ping().await.unwrap();
        Scanner::check_ready(&scanner).await.unwrap();
        let clean = scanner
            .scan(reader(vec![Bytes::from_static(b"just a text file\n")]))
            .await
            .unwrap();
        assert_eq!(clean, Verdict::Clean, "{scanner:?}");
        let empty = scanner.scan(reader(Vec::new())).await.unwrap();
        assert_eq!(empty, Verdict::Clean, "{scanner:?}");
        let infected = scanner
            .scan(reader(vec![Bytes::from_static(EICAR)]))
            .await
            .unwrap();
        assert_eq!(
            infected,
            Verdict::Infected {
                signature: EICAR_SIGNATURE.into()
            },
            "{scanner:?}"
        );
    }
}

#[tokio::test]
async fn eicar_split_across_chunks_inside_30_mib_is_found_and_30_mib_clean_is_clean() {
    let chunk = 64 * 1024;
    let total = 30 * 1024 * 1024;
    let filler = Bytes::from(vec![b'a'; chunk]);
    for scanner in scanners() {
        let clean: Vec<Bytes> = (0..total / chunk).map(|_| filler.clone()).collect();
        let started = Instant::now();
        assert_eq!(scanner.scan(reader(clean)).await.unwrap(), Verdict::Clean);
        eprintln!("30 MiB clean scanned in {:?}", started.elapsed());

        // EICAR in the middle of the 30 MiB, its halves in two chunks.
        let mut chunks: Vec<Bytes> = (0..total / chunk / 2).map(|_| filler.clone()).collect();
        let (head, tail) = EICAR.split_at(EICAR.len() / 2);
        chunks.push(Bytes::from_static(head));
        chunks.push(Bytes::from_static(tail));
        chunks.extend((0..total / chunk / 2 - 1).map(|_| filler.clone()));
        assert_eq!(
            scanner.scan(reader(chunks)).await.unwrap(),
            Verdict::Infected {
                signature: EICAR_SIGNATURE.into()
            }
        );
    }
}

#[tokio::test]
async fn a_file_that_breaks_off_is_no_verdict() {
    for scanner in scanners() {
        let file = BlobReader {
            size: 10,
            stream: Box::pin(futures::stream::iter([
                Ok(Bytes::from_static(b"abc")),
                Err(BlobError::Backend("disk gone".into())),
            ])),
        };
        let got = scanner.scan(file).await;
        assert!(matches!(got, Err(ScanError::Blob(_))), "{got:?}");
        // and the daemon still answers the next one
        scanner.ping().await.unwrap();
    }
}

#[tokio::test]
async fn an_absent_daemon_is_an_error_at_once_and_a_silent_one_after_the_timeout() {
    // A port nobody listens on: refused at once.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let gone = ClamdScanner::new(
        ClamdAddress::Tcp(format!("127.0.0.1:{port}")),
        Duration::from_secs(30),
    );
    let started = Instant::now();
    let got = gone.scan(reader(vec![Bytes::from_static(EICAR)])).await;
    assert!(matches!(got, Err(ScanError::Unavailable(_))), "{got:?}");
    let ready = gone.check_ready().await;
    assert!(matches!(ready, Err(ScanError::Unavailable(_))), "{ready:?}");
    assert!(started.elapsed() < Duration::from_secs(2));

    let dir = tempfile::tempdir().unwrap();
    let no_socket = ClamdScanner::new(
        ClamdAddress::Unix(dir.path().join("clamd.sock")),
        Duration::from_secs(30),
    );
    let got = no_socket.scan(reader(vec![Bytes::from_static(b"x")])).await;
    assert!(matches!(got, Err(ScanError::Unavailable(_))), "{got:?}");

    // A listener that accepts and never answers: the timeout ends the scan.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            held.push(conn);
        }
    });
    let slow = ClamdScanner::new(
        ClamdAddress::Tcp(addr.to_string()),
        Duration::from_millis(500),
    );
    let started = Instant::now();
    let got = slow.scan(reader(vec![Bytes::from_static(b"x")])).await;
    let took = started.elapsed();
    assert!(
        matches!(&got, Err(ScanError::Unavailable(m)) if m.contains("no answer")),
        "{got:?}"
    );
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "{took:?}"
    );
    hold.abort();
}
