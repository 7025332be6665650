//! A stand-in virus scanner.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use futures::StreamExt;

use crate::ports::{BlobReader, ScanError, Scanner, Verdict};

/// A stand-in virus scanner for tests of the services and of front ends: it
/// finds `pattern` anywhere in a file (across chunk boundaries), and can be
/// switched to failing, as an unreachable scanner would. It reads the stream
/// chunk by chunk, keeping only the pattern's length of the previous ones.
pub struct MemoryScanner {
    pattern: Vec<u8>,
    signature: String,
    failing: std::sync::atomic::AtomicBool,
    scanned: std::sync::atomic::AtomicUsize,
}

impl MemoryScanner {
    /// A scanner reporting `signature` for every file containing `pattern`.
    pub fn new(pattern: &[u8], signature: &str) -> Self {
        Self {
            pattern: pattern.to_vec(),
            signature: signature.to_owned(),
            failing: std::sync::atomic::AtomicBool::new(false),
            scanned: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Makes every later scan fail (`true`) or work again (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// How many files it has given a verdict on.
    pub fn scanned(&self) -> usize {
        self.scanned.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Scanner for MemoryScanner {
    async fn check_ready(&self) -> Result<(), ScanError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(ScanError::Unavailable("the scanner is switched off".into()));
        }
        Ok(())
    }

    async fn scan(&self, mut file: BlobReader) -> Result<Verdict, ScanError> {
        self.check_ready().await?;
        let keep = self.pattern.len().saturating_sub(1);
        let mut window: Vec<u8> = Vec::new();
        let mut found = self.pattern.is_empty();
        while let Some(chunk) = file.stream.next().await {
            window.extend_from_slice(&chunk?);
            found |= window
                .windows(self.pattern.len().max(1))
                .any(|w| w == self.pattern.as_slice());
            let drop = window.len().saturating_sub(keep);
            window.drain(..drop);
        }
        self.scanned.fetch_add(1, Ordering::SeqCst);
        Ok(if found {
            Verdict::Infected {
                signature: self.signature.clone(),
            }
        } else {
            Verdict::Clean
        })
    }
}
