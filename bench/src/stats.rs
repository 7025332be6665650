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
    Ok(spread(warmup, runs, |_| op()).await?.p50)
}

/// The median and the 99th percentile of many timed runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The median.
    pub p50: Duration,
    /// The 99th percentile (the slowest run when there are fewer than 100).
    pub p99: Duration,
}

/// Runs `op(i)` for `i` in `0..warmup` untimed, then for the next `runs`
/// values of `i` timed: each run may look at something else (another row),
/// so the figure is of the many, not of one cached answer.
pub async fn spread<F, Fut, T, E>(warmup: usize, runs: usize, mut op: F) -> Result<Spread, E>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    for i in 0..warmup {
        op(i).await?;
    }
    let mut times = Vec::with_capacity(runs.max(1));
    for i in warmup..warmup + runs.max(1) {
        let start = Instant::now();
        op(i).await?;
        times.push(start.elapsed());
    }
    times.sort();
    let at = |q: usize| times[(times.len() * q / 100).min(times.len() - 1)];
    Ok(Spread {
        p50: at(50),
        p99: at(99),
    })
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

    #[tokio::test]
    async fn a_spread_times_each_run_once_after_the_warmup() {
        let mut seen = Vec::new();
        let got = spread(1, 3, |i| {
            seen.push(i);
            async { Ok::<_, ()>(()) }
        })
        .await;
        assert!(got.is_ok_and(|s| s.p50 <= s.p99));
        assert_eq!(seen, [0, 1, 2, 3]);
    }
}
