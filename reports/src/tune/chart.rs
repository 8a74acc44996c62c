//! The Pareto chart of a search: every full-horizon candidate at (mean cost, mean p99), the
//! front highlighted with ±1 sd bars, marker size by cold-start ratio, the SLO's p99 line and
//! the winner.

use plotters::coord::Shift;
use plotters::prelude::*;
use scalelab_core::tune::analyze::Summary;
use scalelab_core::tune::doc::TuneDoc;

use crate::ReportError;
use crate::charts::{FONT, SIZE};

const GREY: RGBColor = RGBColor(150, 150, 150);
const BLUE: RGBColor = RGBColor(31, 119, 180);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);

fn chart_error(e: impl std::fmt::Display) -> ReportError {
    ReportError::Chart {
        chart: "pareto".into(),
        message: e.to_string(),
    }
}

/// The chart as an SVG document.
pub fn pareto_svg(doc: &TuneDoc) -> Result<String, ReportError> {
    crate::charts::ensure_font()?;
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
        draw(&root, doc).map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(s)
}

/// The chart as a PNG file at `path`.
pub fn pareto_png(doc: &TuneDoc, path: &std::path::Path) -> Result<(), ReportError> {
    crate::charts::ensure_font()?;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    draw(&root, doc).map_err(chart_error)?;
    root.present().map_err(|e| ReportError::Chart {
        chart: "pareto".into(),
        message: format!("writing {}: {e}", path.display()),
    })?;
    Ok(())
}

struct Point<'a> {
    id: u64,
    s: &'a Summary,
    front: bool,
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    doc: &TuneDoc,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let points: Vec<Point<'_>> = doc
        .rows
        .iter()
        .filter(|r| r.full)
        .filter_map(|r| {
            r.summary.as_ref().map(|s| Point {
                id: r.id,
                s,
                front: doc.outcome.front.contains(&r.id),
            })
        })
        .collect();
    let model = points
        .first()
        .map(|p| p.s.cost_model.clone())
        .unwrap_or_default();
    let slo_p99 = points
        .iter()
        .flat_map(|p| p.s.slo.checks.iter())
        .find(|c| c.name == "p99")
        .map(|c| c.threshold);
    let span = |f: &dyn Fn(&Summary) -> (f64, f64)| {
        let lo = points
            .iter()
            .map(|p| f(p.s).0)
            .fold(f64::INFINITY, f64::min);
        let hi = points
            .iter()
            .map(|p| f(p.s).1)
            .fold(f64::NEG_INFINITY, f64::max);
        if lo.is_finite() && hi.is_finite() {
            (lo, hi)
        } else {
            (0.0, 1.0)
        }
    };
    let (x0, x1) = span(&|s| {
        (
            s.cost_usd.mean - s.cost_usd.sd,
            s.cost_usd.mean + s.cost_usd.sd,
        )
    });
    let (mut y0, mut y1) = span(&|s| (s.p99_ms.mean - s.p99_ms.sd, s.p99_ms.mean + s.p99_ms.sd));
    if let Some(t) = slo_p99 {
        y0 = y0.min(t);
        y1 = y1.max(t);
    }
    let pad = |a: f64, b: f64| {
        let d = if b > a {
            (b - a) * 0.08
        } else {
            a.abs().max(1e-6) * 0.1
        };
        ((a - d).max(0.0), b + d)
    };
    let (x0, x1) = pad(x0, x1);
    let (y0, y1) = pad(y0, y1);
    let max_cold = points
        .iter()
        .map(|p| p.s.cold_start_ratio.mean)
        .fold(0.0, f64::max);
    let radius = |p: &Point<'_>| {
        if max_cold > 0.0 {
            4 + (p.s.cold_start_ratio.mean / max_cold * 10.0).round() as i32
        } else {
            5
        }
    };
    let title = format!(
        "tune {}: cost vs p99 ({} candidates, {} on the front)",
        doc.setup.scenario,
        points.len(),
        points.iter().filter(|p| p.front).count()
    );
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 26))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc(format!("mean cost, USD ({model})"))
        .y_desc("mean p99 latency, ms")
        .axis_desc_style((FONT, 19))
        .label_style((FONT, 15))
        .x_label_formatter(&|x| super::text::axis(*x))
        .y_label_formatter(&|y| super::text::axis(*y))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    if let Some(t) = slo_p99 {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, t), (x1, t)],
                8,
                6,
                RED.stroke_width(2),
            ))?
            .label(format!("SLO p99 {} ms", super::text::axis(t)))
            // Dashed in the legend as in the chart.
            .legend(|(x, y)| {
                plotters::element::DashedPathElement::new(
                    vec![(x, y), (x + 24, y)],
                    8,
                    6,
                    RED.stroke_width(2),
                )
            });
    }
    // Filled when the candidate meets the SLO, hollow when it fails it.
    let marker = |p: &Point<'_>, color: RGBColor| {
        let style = if p.s.slo.passed {
            color.filled()
        } else {
            color.stroke_width(2)
        };
        Circle::new((p.s.cost_usd.mean, p.s.p99_ms.mean), radius(p), style)
    };
    chart
        .draw_series(points.iter().filter(|p| !p.front).map(|p| marker(p, GREY)))?
        .label("dominated (hollow: fails the SLO; size: cold-start ratio)")
        .legend(|(x, y)| Circle::new((x + 12, y), 5, GREY.filled()));
    let mut front: Vec<&Point<'_>> = points.iter().filter(|p| p.front).collect();
    front.sort_by(|a, b| a.s.cost_usd.mean.total_cmp(&b.s.cost_usd.mean));
    for p in &front {
        let (x, y) = (p.s.cost_usd.mean, p.s.p99_ms.mean);
        if p.s.cost_usd.sd > 0.0 || p.s.p99_ms.sd > 0.0 {
            chart.draw_series([
                PathElement::new(
                    vec![(x - p.s.cost_usd.sd, y), (x + p.s.cost_usd.sd, y)],
                    BLUE.mix(0.6).stroke_width(1),
                ),
                PathElement::new(
                    vec![(x, y - p.s.p99_ms.sd), (x, y + p.s.p99_ms.sd)],
                    BLUE.mix(0.6).stroke_width(1),
                ),
            ])?;
        }
    }
    chart
        .draw_series(front.iter().map(|p| marker(p, BLUE)))?
        .label("Pareto front (cost, p99, cold-start ratio), ±1 sd over seeds")
        .legend(|(x, y)| Circle::new((x + 12, y), 5, BLUE.filled()));
    // Candidates with the same mean cost and p99 (a parameter that changed nothing) share one
    // marker; say how many, beside it, so none is hidden without a trace.
    let mut groups: Vec<(&Point<'_>, usize)> = Vec::new();
    for p in &points {
        let key = (p.s.cost_usd.mean, p.s.p99_ms.mean);
        match groups
            .iter_mut()
            .find(|(q, _)| (q.s.cost_usd.mean, q.s.p99_ms.mean) == key)
        {
            Some((_, n)) => *n += 1,
            None => groups.push((p, 1)),
        }
    }
    let shared: Vec<(&Point<'_>, usize)> = groups.into_iter().filter(|(_, n)| *n > 1).collect();
    if !shared.is_empty() {
        let hidden: usize = shared.iter().map(|(_, n)| n - 1).sum();
        chart
            .draw_series(shared.iter().map(|(p, n)| {
                EmptyElement::at((p.s.cost_usd.mean, p.s.p99_ms.mean))
                    + Text::new(
                        format!("×{n}"),
                        (radius(p) + 5 + 8, 4),
                        (FONT, 15).into_font().color(&BLACK),
                    )
            }))?
            .label(format!(
                "×n: n candidates with the same mean cost and p99 share the marker ({hidden} \
                 hidden)"
            ))
            .legend(|(x, y)| {
                EmptyElement::at((x, y))
                    + Text::new("×n", (0, -8), (FONT, 15).into_font().color(&BLACK))
            });
    }
    if let Some(w) = points.iter().find(|p| doc.outcome.winner == Some(p.id)) {
        let at = (w.s.cost_usd.mean, w.s.p99_ms.mean);
        chart
            .draw_series([Circle::new(at, radius(w) + 5, GREEN.stroke_width(3))])?
            .label(format!("best: candidate {}", w.id))
            .legend(|(x, y)| Circle::new((x + 12, y), 7, GREEN.stroke_width(3)));
        // The label sits beside the ring, never on it (pixel offsets from the marker).
        let gap = radius(w) + 5 + 8;
        chart.draw_series([EmptyElement::at(at)
            + Text::new(
                format!("best #{}", w.id),
                (gap, -9),
                (FONT, 17).into_font().color(&GREEN),
            )])?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 16))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()?;
    Ok(())
}
