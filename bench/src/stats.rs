//! Timing many runs of one operation, and printing results.

use std::future::Future;
use std::time::{Duration, Instant};

/// Runs `op` `warmup` times untimed, then `runs` times timed; returns the
/// median (robust to the odd slow run on a shared machine).
pub async fn median<F, Fut, T, E>(warmup: usize, runs: usize, mut op: F) -> Result<Duration, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    for _ in 0..warmup {
        op().await?;
    }
    let mut times = Vec::with_capacity(runs.max(1));
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        op().await?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// Milliseconds with three decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_run_happens_and_one_is_the_median() {
        let mut calls = 0;
        let got = median(2, 5, || {
            calls += 1;
            async { Ok::<_, ()>(()) }
        })
        .await;
        assert!(got.is_ok_and(|d| d < Duration::from_secs(1)));
        assert_eq!(calls, 7);
        assert_eq!(ms(Duration::from_micros(1500)), "1.500");
    }
}
