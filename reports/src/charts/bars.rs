//! Charts per variant: latency percentiles (all, warm, cold-delayed), the latency CDF, cost.

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;
use scalelab_core::result::{Latency, RunResult, VariantResult};

use super::{DrawResult, FONT, Fonts, Swatch, legend_strip, tick, variant_color, variant_items};

const PERCENTILES: [&str; 5] = ["p50", "p90", "p99", "p99.9", "max"];

fn values(l: &Latency) -> [f64; 5] {
    [l.p50, l.p90, l.p99, l.p999, l.max]
}

/// A latency summary worth drawing (some samples or some positive value).
fn present(l: &Latency) -> bool {
    l.count > 0 || l.max > 0.0
}

/// A log axis over positive `values`: whole decades around the smallest times `below` and the
/// largest times `above` (1 to 10 when there are none).
fn log_range(values: &[f64], below: f64, above: f64) -> (f64, f64) {
    if values.is_empty() {
        return (1.0, 10.0);
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    (
        10f64.powf((lo * below).log10().floor()),
        10f64.powf((hi * above).log10().ceil()),
    )
}

/// The mesh of these charts: the fonts and a faint grid.
fn faint_mesh<'m, 'a, 'b, X, Y, DB>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
    f: &Fonts,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB>
where
    X: Ranged,
    Y: Ranged,
    DB: DrawingBackend,
{
    mesh.axis_desc_style((FONT, f.axis))
        .label_style((FONT, f.tick))
        .light_line_style(BLACK.mix(0.04))
        .bold_line_style(BLACK.mix(0.12))
}

/// The category under an x value of a categorical axis, or "".
fn category(v: f64, names: &[&str]) -> String {
    let i = v.round();
    if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].to_string()
    } else {
        String::new()
    }
}

pub(super) fn latency<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    f: &Fonts,
    r: &RunResult,
) -> DrawResult<DB> {
    type Pick = fn(&VariantResult) -> Option<Latency>;
    let mut panels: Vec<(&str, Pick)> = vec![("all requests", |v| Some(v.latency_ms))];
    if r.variants
        .iter()
        .any(|v| v.latency_ms_warm.is_some_and(|l| present(&l)))
    {
        panels.push(("warm (no cold start)", |v| v.latency_ms_warm));
    }
    if r.variants
        .iter()
        .any(|v| v.latency_ms_cold.is_some_and(|l| present(&l)))
    {
        panels.push(("delayed by a cold start", |v| v.latency_ms_cold));
    }
    // One shared log scale, so panels compare at a glance.
    let all: Vec<f64> = r
        .variants
        .iter()
        .flat_map(|v| panels.iter().filter_map(move |(_, p)| p(v)))
        .filter(present)
        .flat_map(|l| values(&l))
        .filter(|x| *x > 0.0)
        .collect();
    let (lo, hi) = log_range(&all, 0.5, 1.5);
    let plots = legend_strip(root, &variant_items(r), f.legend)?;
    let areas = plots.split_evenly((1, panels.len()));
    let n = r.variants.len().max(1) as f64;
    for (k, ((name, pick), area)) in panels.iter().zip(areas.iter()).enumerate() {
        let mut c = ChartBuilder::on(area)
            .caption(*name, (FONT, f.axis))
            .margin_left(if k == 0 { 10 } else { 0 })
            .margin_right(15)
            .margin_bottom(5)
            .x_label_area_size(40)
            .y_label_area_size(if k == 0 { 90 } else { 55 })
            .build_cartesian_2d(-0.5..4.5, (lo..hi).log_scale())?;
        let mut mesh = c.configure_mesh();
        faint_mesh(&mut mesh, f)
            .x_labels(5)
            .x_label_formatter(&|v| category(*v, &PERCENTILES))
            .y_label_formatter(&|v| tick(*v))
            .disable_x_mesh();
        if k == 0 {
            mesh.y_desc("latency (ms, log scale)");
        }
        mesh.draw()?;
        let w = 0.8 / n;
        for (i, v) in r.variants.iter().enumerate() {
            let Some(l) = pick(v).filter(present) else {
                continue;
            };
            let col = variant_color(i);
            c.draw_series(
                values(&l)
                    .iter()
                    .enumerate()
                    .filter(|(_, y)| **y > 0.0)
                    .map(|(j, &y)| {
                        let x0 = j as f64 - 0.4 + w * i as f64;
                        Rectangle::new([(x0, lo), (x0 + w * 0.92, y)], col.filled())
                    }),
            )?;
        }
    }
    Ok(())
}

/// A variant's CDF line: its index, the variant, the points, and whether they are the full
/// `latency_cdf` (true) or only the percentiles.
type CdfLine<'a> = (usize, &'a VariantResult, Vec<(f64, f64)>, bool);

/// The CDF's y axis is "nines": y = -log10(1 - F), so 90%, 99% and 99.9% are evenly spaced and
/// the tail, where cold starts live, is visible.
fn nines(fraction: f64, cap: f64) -> f64 {
    if fraction >= 1.0 {
        cap
    } else {
        (-(1.0 - fraction.max(0.0)).log10()).min(cap)
    }
}

/// The points of a variant's CDF: the document's `latency_cdf` when present, else the
/// percentiles it always has (the maximum stands at 1 - 1/count).
fn cdf_points(v: &VariantResult, cap: f64) -> (Vec<(f64, f64)>, bool) {
    if let Some(cdf) = v.latency_cdf.as_ref().filter(|c| !c.is_empty()) {
        let pts = cdf
            .iter()
            .filter(|p| p.ms > 0.0 && p.ms.is_finite())
            .map(|p| (p.ms, nines(p.fraction, cap)))
            .collect();
        return (pts, true);
    }
    let l = &v.latency_ms;
    let top = if l.count > 1 {
        1.0 - 1.0 / l.count as f64
    } else {
        1.0
    };
    let pts = [
        (l.p50, 0.5),
        (l.p90, 0.9),
        (l.p99, 0.99),
        (l.p999, 0.999),
        (l.max, top),
    ]
    .into_iter()
    .filter(|(ms, _)| *ms > 0.0)
    .map(|(ms, fr)| (ms, nines(fr, cap)))
    .collect();
    (pts, false)
}

pub(super) fn latency_cdf<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    f: &Fonts,
    r: &RunResult,
) -> DrawResult<DB> {
    let cap = 4.0;
    let lines: Vec<CdfLine<'_>> = r
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let (pts, full) = cdf_points(v, cap);
            (i, v, pts, full)
        })
        .collect();
    // Variants with identical distributions would hide each other: the later ones are drawn
    // dashed on top and say so in the legend.
    let same_as = super::coincident(&lines.iter().map(|l| l.2.as_slice()).collect::<Vec<_>>());
    let items: Vec<(String, Swatch)> = lines
        .iter()
        .enumerate()
        .map(|(k, (i, v, _, full))| {
            let name =
                super::coincident_label(&v.name, same_as[k].map(|j| lines[j].1.name.as_str()));
            let label = if *full {
                name
            } else {
                format!("{name} (dots: p50, p90, p99, p99.9, max)")
            };
            (
                label,
                Swatch::Line(variant_color(*i), 3, same_as[k].is_some()),
            )
        })
        .collect();
    let root = legend_strip(root, &items, f.legend)?;
    let xs: Vec<f64> = lines.iter().flat_map(|l| l.2.iter().map(|p| p.0)).collect();
    let (lo, hi) = log_range(&xs, 0.8, 1.25);
    let mut c = ChartBuilder::on(&root)
        .margin_left(10)
        .margin_right(30)
        .margin_top(10)
        .margin_bottom(5)
        .x_label_area_size(50)
        .y_label_area_size(110)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..cap)?;
    faint_mesh(&mut c.configure_mesh(), f)
        .x_desc("latency (ms, log scale)")
        .y_desc("requests at or below (%)")
        .y_labels(5)
        .y_label_formatter(&|y| {
            let p = (1.0 - 10f64.powf(-y)) * 100.0;
            format!("{}%", crate::fmt::num(p, 2))
        })
        .x_label_formatter(&|v| tick(*v))
        .draw()?;
    for (k, (i, _, pts, full)) in lines.into_iter().enumerate() {
        let col = variant_color(i);
        let rank = super::coincidence_rank(&same_as, k);
        super::draw_line(&mut c, pts.clone(), col, rank)?;
        if !full {
            // A coinciding line's dots are hollow and larger, around the first line's.
            if rank == 0 {
                c.draw_series(pts.iter().map(|&p| Circle::new(p, 5, col.filled())))?;
            } else {
                let r = 5 + 3 * rank as u32;
                c.draw_series(pts.iter().map(|&p| Circle::new(p, r, col.stroke_width(2))))?;
            }
        }
    }
    Ok(())
}

pub(super) fn cost<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    f: &Fonts,
    r: &RunResult,
) -> DrawResult<DB> {
    let models = crate::exporters::cost_models(r);
    let names: Vec<&str> = models.iter().map(String::as_str).collect();
    let y_max = r
        .variants
        .iter()
        .flat_map(|v| v.cost.values().map(|c| c.per_million_requests_usd))
        .filter(|x| x.is_finite())
        .fold(0.0, f64::max);
    let y_max = if y_max > 0.0 { y_max * 1.2 } else { 1.0 };
    let plot = legend_strip(root, &variant_items(r), f.legend)?;
    let m = models.len().max(1) as f64;
    let mut c = ChartBuilder::on(&plot)
        .margin_left(10)
        .margin_right(30)
        .margin_bottom(5)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(-0.5..(m - 0.5), 0.0..y_max)?;
    faint_mesh(&mut c.configure_mesh(), f)
        .x_labels(models.len().max(1))
        .x_label_formatter(&|v| category(*v, &names))
        .x_desc("billing model")
        .y_desc("USD per million requests")
        .y_label_formatter(&|v| format!("${}", tick(*v)))
        .disable_x_mesh()
        .draw()?;
    let n = r.variants.len().max(1) as f64;
    let w = 0.8 / n;
    for (i, v) in r.variants.iter().enumerate() {
        let col = variant_color(i);
        for (j, model) in models.iter().enumerate() {
            let Some(cost) = v.cost.get(model) else {
                continue;
            };
            let y = cost.per_million_requests_usd;
            if !y.is_finite() {
                continue;
            }
            let x0 = j as f64 - 0.4 + w * i as f64;
            c.draw_series(std::iter::once(Rectangle::new(
                [(x0, 0.0), (x0 + w * 0.92, y)],
                col.filled(),
            )))?;
            c.draw_series(std::iter::once(Text::new(
                crate::fmt::usd(y),
                (x0 + w * 0.46, y),
                TextStyle::from((FONT, f.tick)).pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Bottom,
                )),
            )))?;
        }
    }
    Ok(())
}
