//! The plot of docs/performance.md: throughput against concurrency for 30 MiB
//! uploads and downloads, Clasp beside its peers, drawn as SVG from a report.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::workloads::transfer::{Report, Role, median, size_label};

/// One line of a panel: which figures, whose side, how drawn.
struct Series {
    role: Role,
    clasp: bool,
    label: &'static str,
    color: RGBColor,
}

const CLASP_LOCAL: RGBColor = RGBColor(200, 40, 40);
const LOCAL_PEER: RGBColor = RGBColor(40, 90, 200);
const CLASP_S3: RGBColor = RGBColor(230, 140, 30);
const S3_PEER: RGBColor = RGBColor(40, 160, 90);

/// The two panels: uploads and large downloads, Clasp beside its peers.
const PANELS: [(&str, [Series; 4]); 2] = [
    (
        "upload",
        [
            Series {
                role: Role::Upload,
                clasp: true,
                label: "Clasp, local",
                color: CLASP_LOCAL,
            },
            Series {
                role: Role::Upload,
                clasp: false,
                label: "nginx PUT",
                color: LOCAL_PEER,
            },
            Series {
                role: Role::S3Upload,
                clasp: true,
                label: "Clasp, SeaweedFS",
                color: CLASP_S3,
            },
            Series {
                role: Role::S3Upload,
                clasp: false,
                label: "SeaweedFS direct",
                color: S3_PEER,
            },
        ],
    ),
    (
        "download",
        [
            Series {
                role: Role::Download,
                clasp: true,
                label: "Clasp, local",
                color: CLASP_LOCAL,
            },
            Series {
                role: Role::Download,
                clasp: false,
                label: "nginx sendfile",
                color: LOCAL_PEER,
            },
            Series {
                role: Role::S3Download,
                clasp: true,
                label: "Clasp, SeaweedFS",
                color: CLASP_S3,
            },
            Series {
                role: Role::S3Download,
                clasp: false,
                label: "SeaweedFS direct",
                color: S3_PEER,
            },
        ],
    ),
];

/// The points (concurrency, median MiB/s) of one series, of its largest files.
fn points(report: &Report, series: &Series) -> Vec<(f64, f64)> {
    let figures = report.measurements.iter().filter(|m| m.role == series.role);
    let largest = figures.clone().map(|m| m.bytes).max().unwrap_or(0);
    figures
        .filter(|m| m.bytes == largest)
        .map(|m| {
            let values = if series.clasp { &m.clasp } else { &m.peers };
            (m.concurrency as f64, median(values))
        })
        .collect()
}

/// Draws the upload and download panels of `report` into the SVG file `path`.
pub fn draw(report: &Report, path: &Path) -> Result<()> {
    let root = SVGBackend::new(path, (1100, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let panels = root.split_evenly((1, 2));
    for (area, (title, series)) in panels.iter().zip(PANELS.iter()) {
        let lines: Vec<_> = series.iter().map(|s| (s, points(report, s))).collect();
        let max_x = lines
            .iter()
            .flat_map(|(_, p)| p.iter().map(|(x, _)| *x))
            .fold(1.0_f64, f64::max);
        let max_y = lines
            .iter()
            .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
            .fold(1.0_f64, f64::max);
        let size = report.memory.map_or(0, |m| m.bytes);
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("{title} {}: throughput", size_label(size)),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((1.0..max_x).log_scale(), 0.0..max_y * 1.1)
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc("requests in flight")
            .y_desc("MiB/s")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for (s, p) in lines.into_iter().filter(|(_, p)| !p.is_empty()) {
            let color = s.color;
            chart
                .draw_series(LineSeries::new(p.clone(), color.stroke_width(2)))
                .map_err(|e| anyhow!("{e}"))?
                .label(s.label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            chart
                .draw_series(p.into_iter().map(|xy| Circle::new(xy, 3, color.filled())))
                .map_err(|e| anyhow!("{e}"))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
    }
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
