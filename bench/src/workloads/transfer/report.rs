//! What the transfer workloads measured, and the report people read: one
//! figure per workload and concurrency, Clasp beside its peer.

use std::time::Duration;

use crate::load::Sample;

/// One KiB.
pub(super) const KIB: usize = 1024;
/// One MiB.
pub(super) const MIB: usize = 1024 * KIB;

/// `1 MiB`, `30 MiB`, `64 KiB`: a size as the report names it.
pub fn size_label(bytes: usize) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / KIB)
    }
}

/// What a figure measures, whatever its sizes: the plot picks lines by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Downloads through Clasp's streaming endpoint, local storage.
    Download,
    /// The same downloads with the generator on a core of its own, at the
    /// largest concurrency: where its own CPU shows whether it made the figure.
    DownloadApart,
    /// Authenticated metadata GETs, the servers and the generator sharing
    /// every core: where the throughput ratio is judged.
    Metadata,
    /// The same GETs with the generator on a core of its own: where the 99th
    /// percentile is judged, being then the server's rather than the
    /// scheduler's.
    MetadataApart,
    /// Multipart uploads, local storage, Clasp and nginx writing to tmpfs.
    Upload,
    /// Multipart uploads, local storage, Clasp and nginx writing to disk.
    DiskUpload,
    /// Multipart uploads to Clasp against tus uploads to `@tus/server`, both
    /// writing to tmpfs.
    TusUpload,
    /// Uploads through tus in 5 MiB parts: Clasp's `/tus/` against
    /// `@tus/server` and against Clasp's one-shot upload, on tmpfs.
    TusChunked,
    /// Small multipart uploads, local storage, counted in requests.
    SmallUpload,
    /// Uploads with S3 storage.
    S3Upload,
    /// Downloads with S3 storage.
    S3Download,
}

/// How a figure is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Body bytes per second, in MiB.
    MibPerSec,
    /// Requests per second.
    PerSec,
}

impl Unit {
    pub(super) fn of(self, sample: &Sample) -> f64 {
        match self {
            Unit::MibPerSec => sample.mib_per_sec(),
            Unit::PerSec => sample.per_sec(),
        }
    }

    pub(super) fn label(self) -> &'static str {
        match self {
            Unit::MibPerSec => "MiB/s",
            Unit::PerSec => "req/s",
        }
    }
}

/// One figure: Clasp and its peer, each measured `rounds` times.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// What was done, e.g. `download 30 MiB`.
    pub workload: String,
    /// What kind of figure it is.
    pub role: Role,
    /// The size of each transferred file (0 for metadata).
    pub bytes: usize,
    /// Requests in flight.
    pub concurrency: usize,
    /// How the values count.
    pub unit: Unit,
    /// Clasp's value of each round.
    pub clasp: Vec<f64>,
    /// Clasp's 99th percentile latency of each round.
    pub clasp_p99: Vec<Duration>,
    /// The peer, e.g. `nginx sendfile`.
    pub peer: String,
    /// The peer's value of each round.
    pub peers: Vec<f64>,
    /// The peer's 99th percentile latency of each round.
    pub peer_p99: Vec<Duration>,
    /// The generator's ceiling in each round: the same requests against
    /// nginx's cheapest answer.
    pub ceiling: Vec<f64>,
    /// With the generator on CPUs of its own: the share of their time they
    /// were busy during each of Clasp's measurements.
    pub clasp_busy: Vec<f64>,
    /// The same during each of the peer's.
    pub peer_busy: Vec<f64>,
    /// The least ratio (Clasp ÷ peer, of medians) the issue asks for.
    pub goal: Option<f64>,
}

/// How close to the generator's ceiling a figure may come and still measure
/// the server: within 20 % of it, the generator may be what limits it.
pub const GENERATOR_MARGIN: f64 = 0.8;

impl Measurement {
    /// Median of Clasp's values ÷ median of the peer's.
    pub fn ratio(&self) -> f64 {
        median(&self.clasp) / median(&self.peers).max(1e-9)
    }

    /// Whether the generator may be what made Clasp's figure, and the
    /// peer's: with the generator on CPUs of its own, when they were busy
    /// 80 % of the time or more during that side's measurements (the direct
    /// evidence; a download's cheapest answer is the peer's own, so there the
    /// ceiling would always say so); otherwise when that side's median is
    /// within 20 % of the generator's ceiling.
    pub fn bound(&self) -> Bound {
        let apart = !self.clasp_busy.is_empty() || !self.peer_busy.is_empty();
        let limit = GENERATOR_MARGIN * median(&self.ceiling);
        let side = |values: &[f64], busy: &[f64]| {
            if apart {
                !busy.is_empty() && median(busy) >= GENERATOR_MARGIN
            } else {
                !self.ceiling.is_empty() && median(values) >= limit
            }
        };
        match (
            side(&self.clasp, &self.clasp_busy),
            side(&self.peers, &self.peer_busy),
        ) {
            (false, false) => Bound::Neither,
            (true, false) => Bound::Clasp,
            (false, true) => Bound::Peer,
            (true, true) => Bound::Both,
        }
    }

    /// The ratio as the report gives it: exact, a bound when the generator
    /// held back one side only, or `generator-bound`.
    pub fn verdict_ratio(&self) -> String {
        let ratio = self.ratio();
        match self.bound() {
            Bound::Neither => format!("{ratio:.2}"),
            Bound::Peer => format!("≤ {ratio:.2} (peer generator-bound)"),
            Bound::Clasp => format!("≥ {ratio:.2} (Clasp generator-bound)"),
            Bound::Both => "generator-bound".into(),
        }
    }

    /// Whether the goal holds: `None` when the figures cannot say. A side
    /// the generator held back could do more than it showed, so its figure
    /// bounds the ratio on one side: a peer held back makes the ratio at
    /// most what was measured (enough to miss a goal, never to meet it), and
    /// Clasp held back makes it at least that (enough to meet one). Judging
    /// only exact ratios would hide a Clasp that is plainly slower than a
    /// peer the generator could not keep up with.
    pub fn holds(&self) -> Option<bool> {
        let goal = self.goal?;
        let met = self.ratio() >= goal;
        match self.bound() {
            Bound::Neither => Some(met),
            Bound::Peer => (!met).then_some(false),
            Bound::Clasp => met.then_some(true),
            Bound::Both => None,
        }
    }
}

/// Which of a figure's two sides the generator may have held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Neither: the ratio is the servers'.
    Neither,
    /// Clasp's: the ratio is at least the one measured.
    Clasp,
    /// The peer's: the ratio is at most the one measured.
    Peer,
    /// Both: the ratio says nothing.
    Both,
}

/// The peak memory of `clasp serve` during concurrent uploads.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// Uploads in flight.
    pub uploads: usize,
    /// The size of each.
    pub bytes: usize,
    /// Peak resident set size before the uploads, in bytes.
    pub before: u64,
    /// Peak resident set size during them, in bytes.
    pub peak: u64,
    /// `@tus/server`'s peak resident set size during the same uploads sent
    /// to it, in bytes.
    pub tus_peak: u64,
}

/// The resident size of `clasp serve` before the download sweep and a moment
/// after it: what it keeps of a burst.
#[derive(Debug, Clone, Copy)]
pub struct Settled {
    /// Resident set size before the downloads, in bytes.
    pub idle: u64,
    /// Resident set size a second after them, in bytes.
    pub after: u64,
}

impl Settled {
    /// Whether it came back within `SETTLED_GOAL` of idle.
    pub fn holds(self) -> bool {
        self.after <= self.idle + SETTLED_GOAL
    }
}

/// How far above idle `clasp serve` may stay after a download burst (16 MiB).
pub const SETTLED_GOAL: u64 = 16 * MIB as u64;

/// The most memory `clasp serve` may use during the memory workload (64 MiB).
pub const MEMORY_GOAL: u64 = 64 * MIB as u64;

/// Everything measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every figure, in the order measured.
    pub measurements: Vec<Measurement>,
    /// The memory workload, once it ran.
    pub memory: Option<Memory>,
    /// What the download sweep left resident, once it ran.
    pub after_downloads: Option<Settled>,
}

/// The median of `values` (0 when empty).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The least and the greatest of `values` (∞ and 0 when empty).
pub fn min_max(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| {
        (lo.min(*v), hi.max(*v))
    })
}

fn median_duration(values: &[Duration]) -> Duration {
    let mut v = values.to_vec();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// The 99th percentile an authenticated metadata GET must stay under
/// (issue 20), at the metadata workload's connections, measured with the
/// generator on a core of its own ([`Role::MetadataApart`]).
const METADATA_P99_GOAL: Duration = Duration::from_millis(2);

impl Report {
    /// The goals that do not hold, as lines for people.
    pub fn missed(&self) -> Vec<String> {
        let mut missed: Vec<String> = self
            .measurements
            .iter()
            .filter_map(|m| {
                let goal = m.goal?;
                (m.holds() == Some(false)).then(|| {
                    format!(
                        "{} ×{}: {} < {goal:.2} × {}",
                        m.workload,
                        m.concurrency,
                        m.verdict_ratio(),
                        m.peer
                    )
                })
            })
            .collect();
        for m in self
            .measurements
            .iter()
            .filter(|m| m.role == Role::MetadataApart)
        {
            let p99 = median_duration(&m.clasp_p99);
            if p99 > METADATA_P99_GOAL {
                missed.push(format!(
                    "{} ×{}: p99 {:.2} ms > {} ms",
                    m.workload,
                    m.concurrency,
                    p99.as_secs_f64() * 1000.0,
                    METADATA_P99_GOAL.as_millis()
                ));
            }
        }
        if let Some(memory) = self.memory
            && memory.peak > MEMORY_GOAL.min(memory.tus_peak)
        {
            missed.push(format!(
                "peak RSS {:.1} MiB > {} MiB or @tus/server's {:.1} MiB",
                memory.peak as f64 / MIB as f64,
                MEMORY_GOAL / MIB as u64,
                memory.tus_peak as f64 / MIB as f64
            ));
        }
        if let Some(settled) = self.after_downloads.filter(|s| !s.holds()) {
            missed.push(format!(
                "RSS after the downloads {:.1} MiB > idle {:.1} MiB + {} MiB",
                settled.after as f64 / MIB as f64,
                settled.idle as f64 / MIB as f64,
                SETTLED_GOAL / MIB as u64
            ));
        }
        missed
    }

    /// The report as Markdown: one row per figure, then memory.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "| workload | concurrency | Clasp median (min–max) | peer | peer median (min–max) | generator ceiling (min–max) | ratio | goal |\n|---|---:|---:|---|---:|---:|---:|---|\n",
        );
        for m in &self.measurements {
            let (clo, chi) = min_max(&m.clasp);
            let (plo, phi) = min_max(&m.peers);
            let (glo, ghi) = min_max(&m.ceiling);
            let unit = m.unit.label();
            let mut ceiling = format!("{:.1} ({glo:.1}–{ghi:.1})", median(&m.ceiling));
            if !m.clasp_busy.is_empty() {
                ceiling.push_str(&format!(
                    "; its CPU busy {:.0} % (Clasp), {:.0} % (peer)",
                    median(&m.clasp_busy) * 100.0,
                    median(&m.peer_busy) * 100.0
                ));
            }
            let mut clasp = format!("{:.1} ({clo:.1}–{chi:.1}) {unit}", median(&m.clasp));
            let mut peer = format!("{:.1} ({plo:.1}–{phi:.1}) {unit}", median(&m.peers));
            // Every row: a download's tail shows only here (a rate hides
            // one connection starved while the others run).
            if !m.clasp_p99.is_empty() {
                clasp.push_str(&format!(
                    ", p99 {:.2} ms",
                    median_duration(&m.clasp_p99).as_secs_f64() * 1000.0
                ));
                peer.push_str(&format!(
                    ", p99 {:.2} ms",
                    median_duration(&m.peer_p99).as_secs_f64() * 1000.0
                ));
            }
            let goal = match (m.goal, m.holds()) {
                (Some(goal), None) => format!("≥ {goal:.1}: not judged"),
                (Some(goal), Some(true)) => format!("≥ {goal:.1}: holds"),
                (Some(goal), Some(false)) => format!("≥ {goal:.1}: **missed**"),
                (None, _) => "—".into(),
            };
            out.push_str(&format!(
                "| {} | {} | {clasp} | {} | {peer} | {ceiling} | {} | {goal} |\n",
                m.workload,
                m.concurrency,
                m.peer,
                m.verdict_ratio()
            ));
        }
        if let Some(memory) = self.memory {
            let verdict = if memory.peak <= MEMORY_GOAL.min(memory.tus_peak) {
                "holds"
            } else {
                "**missed**"
            };
            out.push_str(&format!(
                "\nPeak RSS of `clasp serve` during {} concurrent {} uploads: {:.1} MiB (the highest before them: {:.1} MiB); `@tus/server` during the same uploads: {:.1} MiB; goal ≤ {} MiB and ≤ `@tus/server`: {verdict}.\n",
                memory.uploads,
                size_label(memory.bytes),
                memory.peak as f64 / MIB as f64,
                memory.before as f64 / MIB as f64,
                memory.tus_peak as f64 / MIB as f64,
                MEMORY_GOAL / MIB as u64
            ));
        }
        if let Some(settled) = self.after_downloads {
            let verdict = if settled.holds() {
                "holds"
            } else {
                "**missed**"
            };
            out.push_str(&format!(
                "\nRSS of `clasp serve` before the downloads: {:.1} MiB; a second after them: {:.1} MiB; goal within {} MiB of the first: {verdict}.\n",
                settled.idle as f64 / MIB as f64,
                settled.after as f64 / MIB as f64,
                SETTLED_GOAL / MIB as u64
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(role: Role, p99_ms: u64) -> Measurement {
        Measurement {
            workload: "metadata GET".into(),
            role,
            bytes: 0,
            concurrency: 16,
            unit: Unit::PerSec,
            clasp: vec![40_000.0],
            clasp_p99: vec![Duration::from_millis(p99_ms)],
            peer: "nginx".into(),
            peers: vec![100_000.0],
            peer_p99: vec![Duration::from_millis(1)],
            ceiling: vec![300_000.0],
            clasp_busy: Vec::new(),
            peer_busy: Vec::new(),
            goal: Some(0.3),
        }
    }

    #[test]
    fn a_metadata_p99_over_two_milliseconds_apart_from_the_generator_misses_its_goal_whatever_the_ratio()
     {
        let report = |p99| Report {
            measurements: vec![
                metadata(Role::Metadata, 1),
                metadata(Role::MetadataApart, p99),
            ],
            ..Report::default()
        };
        assert!(report(1).missed().is_empty());
        let missed = report(3).missed();
        assert_eq!(missed.len(), 1, "{missed:?}");
        assert!(missed[0].contains("p99 3.00 ms > 2 ms"), "{missed:?}");
    }

    #[test]
    fn apart_from_the_servers_the_generator_is_judged_by_how_busy_its_cpu_was() {
        let mut m = metadata(Role::MetadataApart, 1);
        m.ceiling = vec![41_000.0];
        m.clasp_busy = vec![0.4, 0.5, 0.45];
        m.peer_busy = vec![0.6, 0.7, 0.65];
        assert_eq!(
            m.bound(),
            Bound::Neither,
            "a figure near the ceiling, its CPU half idle"
        );
        m.peer_busy = vec![0.85, 0.9, 0.95];
        assert_eq!(m.bound(), Bound::Peer);
        m.clasp_busy = vec![0.8, 0.9, 0.85];
        assert_eq!(m.bound(), Bound::Both);
        let table = Report {
            measurements: vec![m],
            ..Report::default()
        }
        .render();
        assert!(
            table.contains("its CPU busy 85 % (Clasp), 90 % (peer)"),
            "{table}"
        );
        assert!(table.contains("| generator-bound |"), "{table}");
        assert!(table.contains("≥ 0.3: not judged"), "{table}");
    }

    /// A figure measured with the generator apart: each side's median and
    /// how busy the generator's core was during it (the run of 24ccb36's
    /// 1 MiB downloads were 1,604 MiB/s at 59 % and 3,167 at 99 %).
    fn held_back(clasp: f64, clasp_busy: f64, peer: f64, peer_busy: f64) -> Measurement {
        Measurement {
            clasp: vec![clasp],
            peers: vec![peer],
            ceiling: vec![2_184.0],
            clasp_busy: vec![clasp_busy],
            peer_busy: vec![peer_busy],
            goal: Some(0.9),
            ..metadata(Role::DownloadApart, 10)
        }
    }

    #[test]
    fn a_peer_the_generator_held_back_bounds_the_ratio_from_above_and_can_only_miss_a_goal() {
        let slower = held_back(1_604.0, 0.59, 3_167.0, 0.99);
        assert_eq!(slower.bound(), Bound::Peer);
        assert_eq!(slower.holds(), Some(false), "at most 0.51, under 0.9");
        let report = Report {
            measurements: vec![slower],
            ..Report::default()
        };
        let table = report.render();
        assert!(
            table.contains("| ≤ 0.51 (peer generator-bound) | ≥ 0.9: **missed** |"),
            "{table}"
        );
        assert_eq!(
            report.missed(),
            ["metadata GET ×16: ≤ 0.51 (peer generator-bound) < 0.90 × nginx"]
        );
        let near = held_back(3_000.0, 0.59, 3_167.0, 0.99);
        assert_eq!(near.holds(), None, "at most 0.95 may still be under 0.9");
        assert!(
            Report {
                measurements: vec![near],
                ..Report::default()
            }
            .missed()
            .is_empty()
        );
    }

    #[test]
    fn clasp_held_back_by_the_generator_bounds_the_ratio_from_below_and_can_only_meet_a_goal() {
        let faster = held_back(2_000.0, 0.95, 2_100.0, 0.5);
        assert_eq!(faster.bound(), Bound::Clasp);
        assert_eq!(faster.holds(), Some(true), "at least 0.95");
        assert!(faster.verdict_ratio().starts_with("≥ 0.95"));
        let slower = held_back(1_000.0, 0.95, 2_100.0, 0.5);
        assert_eq!(slower.holds(), None, "at least 0.48 says nothing");
    }

    #[test]
    fn sharing_the_cores_a_side_within_a_fifth_of_the_ceiling_is_the_one_held_back() {
        let mut m = metadata(Role::Metadata, 1);
        m.ceiling = vec![110_000.0];
        assert_eq!(m.bound(), Bound::Peer, "100,000 is within 20 % of 110,000");
        m.clasp = vec![95_000.0];
        assert_eq!(m.bound(), Bound::Both);
        m.ceiling = vec![300_000.0];
        assert_eq!(m.bound(), Bound::Neither);
        assert_eq!(m.holds(), Some(true));
    }

    #[test]
    fn the_p99_sharing_cores_with_the_generator_is_shown_not_judged() {
        let report = Report {
            measurements: vec![metadata(Role::Metadata, 4)],
            ..Report::default()
        };
        assert!(report.missed().is_empty());
        assert!(report.render().contains("p99 4.00 ms"));
    }
}
