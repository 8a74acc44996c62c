//! Charts drawn with plotters, as SVG (for the HTML page) or PNG (for everything else).
//!
//! Text is rendered from DejaVu Sans, bundled in the binary and registered with plotters once, so
//! no system font library is needed at run time. In SVG output the text stays text
//! (`font-family="sans-serif"`), which any browser renders.
//!
//! Colours are fixed per variant index, so a variant has the same colour in every chart.

mod bars;
mod time;

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use scalelab_core::result::{RunResult, SeriesRow};

use crate::ReportError;

/// Default chart size in pixels (readable on a laptop screen and in the HTML page).
pub const SIZE: (u32, u32) = (1200, 700);

/// The font family name charts use (registered from the bundled DejaVu Sans).
pub(crate) const FONT: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Registers the bundled font with plotters (once per process).
pub(crate) fn ensure_font() -> Result<(), ReportError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ReportError::Chart {
            chart: "font".into(),
            message: "the bundled DejaVu Sans font could not be loaded".into(),
        })
    }
}

/// Which chart.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChartKind {
    /// Requests per second and ready/desired instances over time for the variant at this index,
    /// with panic periods and time at zero shaded.
    Timeline(usize),
    /// Ready instances of every variant over time, overlaid.
    Instances,
    /// Latency percentiles per variant: all requests, warm, cold-delayed.
    Latency,
    /// The latency distribution (CDF) per variant.
    LatencyCdf,
    /// Cumulative cold starts over time per variant.
    ColdStarts,
    /// Cost per million requests per billing model, grouped by variant.
    Cost,
    /// Traffic share and ready instances per revision over time for the variant at this index
    /// (scenarios with several revisions: deploys, canaries, rollouts).
    Revisions(usize),
}

/// A chart that applies to a given run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chart {
    /// File stem: `timeline-baseline`, `latency`, ….
    pub name: String,
    /// A one-line caption.
    pub title: String,
    /// What it draws.
    pub kind: ChartKind,
}

/// The charts that have data in `r`, in reading order.
pub fn charts_for(r: &RunResult) -> Vec<Chart> {
    let mut v = Vec::new();
    let has_series = |i: usize| {
        r.variants[i]
            .series
            .as_ref()
            .is_some_and(|s| !s.rows.is_empty())
    };
    // File names: the variant's slug, made unique.
    let mut used: Vec<String> = Vec::new();
    let mut unique = |mut name: String| {
        while used.contains(&name) {
            name.push('_');
        }
        used.push(name.clone());
        name
    };
    let what = if r.mode == scalelab_core::result::Mode::Load {
        "requests and latency over time"
    } else {
        "traffic and instances over time"
    };
    for (i, var) in r.variants.iter().enumerate() {
        if has_series(i) {
            v.push(Chart {
                name: unique(format!("timeline-{}", crate::fmt::slug(&var.name))),
                title: format!("{}: {what}", var.name),
                kind: ChartKind::Timeline(i),
            });
        }
    }
    // A load run measures requests and latency, not instances, cold starts or bills.
    let load = r.mode == scalelab_core::result::Mode::Load;
    for (i, var) in r.variants.iter().enumerate() {
        if !load && var.revisions.len() > 1 && has_series(i) {
            v.push(Chart {
                name: unique(format!("revisions-{}", crate::fmt::slug(&var.name))),
                title: format!("{}: traffic share and instances per revision", var.name),
                kind: ChartKind::Revisions(i),
            });
        }
    }
    let any_series = !load && (0..r.variants.len()).any(has_series);
    if any_series && r.variants.len() > 1 {
        v.push(Chart {
            name: "instances".into(),
            title: "Ready instances over time, all variants".into(),
            kind: ChartKind::Instances,
        });
    }
    if r.variants
        .iter()
        .any(|v| v.latency_ms.count > 0 || v.latency_ms.max > 0.0)
    {
        v.push(Chart {
            name: "latency".into(),
            title: "Latency percentiles per variant".into(),
            kind: ChartKind::Latency,
        });
        v.push(Chart {
            name: "latency-cdf".into(),
            title: "Latency distribution (CDF)".into(),
            kind: ChartKind::LatencyCdf,
        });
    }
    if any_series {
        v.push(Chart {
            name: "cold-starts".into(),
            title: "Cold starts over time".into(),
            kind: ChartKind::ColdStarts,
        });
    }
    if !load && r.variants.iter().any(|v| !v.cost.is_empty()) {
        v.push(Chart {
            name: "cost".into(),
            title: "Cost per million requests by billing model".into(),
            kind: ChartKind::Cost,
        });
    }
    v
}

fn chart_err(chart: &Chart, e: impl std::fmt::Display) -> ReportError {
    ReportError::Chart {
        chart: chart.name.clone(),
        message: e.to_string(),
    }
}

/// Draws `chart` as an SVG document of `size` pixels.
pub fn render_svg(r: &RunResult, chart: &Chart, size: (u32, u32)) -> Result<String, ReportError> {
    ensure_font()?;
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
        draw(&root, r, chart).map_err(|e| chart_err(chart, e))?;
        root.present().map_err(|e| chart_err(chart, e))?;
    }
    Ok(s)
}

/// Draws `chart` as a PNG image of `size` pixels.
pub fn render_png(r: &RunResult, chart: &Chart, size: (u32, u32)) -> Result<Vec<u8>, ReportError> {
    use image::ImageEncoder;
    ensure_font()?;
    let (w, h) = size;
    let mut buf = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        draw(&root, r, chart).map_err(|e| chart_err(chart, e))?;
        root.present().map_err(|e| chart_err(chart, e))?;
    }
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&buf, w, h, image::ColorType::Rgb8)
        .map_err(|e| chart_err(chart, e))?;
    Ok(out)
}

pub(crate) type DrawResult<DB> =
    Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    r: &RunResult,
    chart: &Chart,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let f = fonts(root);
    let area = titled(root, &chart.title, f.title)?;
    let root = &area;
    match chart.kind {
        ChartKind::Timeline(i) => time::timeline(root, &f, r, i),
        ChartKind::Instances => time::instances(root, &f, r),
        ChartKind::ColdStarts => time::cold_starts(root, &f, r),
        ChartKind::Latency => bars::latency(root, &f, r),
        ChartKind::LatencyCdf => bars::latency_cdf(root, &f, r),
        ChartKind::Cost => bars::cost(root, &f, r),
        ChartKind::Revisions(i) => time::revisions(root, &f, r, i),
    }
}

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Swatch {
    /// A line of this colour and width; dashed when `true`.
    Line(RGBColor, u32, bool),
    /// A filled box (shaded regions, bars).
    Patch(RGBAColor),
}

/// Splits a titled chart area into a legend strip on top (wrapped into rows, centred) and the
/// rest, which it returns. Legends live outside the plot so they never hide data.
pub(crate) fn legend_strip<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(String, Swatch)],
    size: f64,
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    if items.is_empty() {
        return Ok(area.clone());
    }
    let style = TextStyle::from((FONT, size)).color(&BLACK);
    let (w, _) = area.dim_in_pixel();
    let usable = w as i32 - 40;
    let widths: Vec<i32> = items
        .iter()
        .map(|(label, _)| {
            area.estimate_text_size(label, &style)
                .map_or(9 * label.len() as i32, |(tw, _)| tw as i32)
                + 36
                + 28
        })
        .collect();
    let mut rows: Vec<Vec<usize>> = vec![Vec::new()];
    let mut used = 0;
    for (i, wi) in widths.iter().enumerate() {
        let row = rows.last_mut().expect("one row");
        if !row.is_empty() && used + wi > usable {
            rows.push(vec![i]);
            used = *wi;
        } else {
            row.push(i);
            used += wi;
        }
    }
    let row_h = (size * 1.6) as i32;
    let strip_h = row_h * rows.len() as i32 + 6;
    let (strip, rest) = area.split_vertically(strip_h);
    for (r, row) in rows.iter().enumerate() {
        let total: i32 = row.iter().map(|&i| widths[i]).sum::<i32>() - 28;
        let mut x = (w as i32 - total).max(0) / 2;
        let y = row_h * r as i32 + row_h / 2 + 3;
        for &i in row {
            let (label, swatch) = &items[i];
            match *swatch {
                Swatch::Line(c, width, false) => {
                    strip.draw(&PathElement::new(
                        vec![(x, y), (x + 28, y)],
                        c.stroke_width(width + 1),
                    ))?;
                }
                Swatch::Line(c, width, true) => {
                    for k in 0..3 {
                        let x0 = x + k * 11;
                        strip.draw(&PathElement::new(
                            vec![(x0, y), (x0 + 6, y)],
                            c.stroke_width(width + 1),
                        ))?;
                    }
                }
                Swatch::Patch(c) => {
                    strip.draw(&Rectangle::new([(x, y - 9), (x + 28, y + 9)], c.filled()))?;
                }
            }
            strip.draw(&Text::new(
                label.clone(),
                (x + 36, y),
                style.pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            x += widths[i];
        }
    }
    Ok(rest)
}

/// The area below a title (with a small top margin so the title is not clipped).
pub(crate) fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    size: f64,
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    root.margin(8, 0, 0, 0).titled(title, (FONT, size))
}

/// Legend entries naming every variant with its colour.
pub(crate) fn variant_items(r: &RunResult) -> Vec<(String, Swatch)> {
    r.variants
        .iter()
        .enumerate()
        .map(|(i, v)| (v.name.clone(), Swatch::Patch(variant_color(i).to_rgba())))
        .collect()
}

/// For each line, the position of the first earlier line with exactly the same points (so it
/// would hide it when drawn on top), or `None`.
pub(crate) fn coincident(lines: &[&[(f64, f64)]]) -> Vec<Option<usize>> {
    (0..lines.len())
        .map(|i| (0..i).find(|&j| lines[j] == lines[i]))
        .collect()
}

/// How many earlier lines line `i` coincides with (0: drawn solid; 1, 2, …: dashed with a
/// pattern of its own, so every coinciding line stays visible).
pub(crate) fn coincidence_rank(same_as: &[Option<usize>], i: usize) -> usize {
    match same_as[i] {
        None => 0,
        Some(first) => same_as[..i].iter().filter(|s| **s == Some(first)).count() + 1,
    }
}

/// The legend label of a line that coincides with another: `min-1 (same as baseline)`.
pub(crate) fn coincident_label(name: &str, same_as: Option<&str>) -> String {
    match same_as {
        Some(other) => format!("{name} (same as {other}: dashed on top)"),
        None => name.to_string(),
    }
}

/// Draws a line solid, or dashed on top of the line it coincides with (`rank` ≥ 1, each rank
/// with its own dash length and offset).
pub(crate) fn draw_line<DB: DrawingBackend, X, Y>(
    c: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    pts: Vec<(f64, f64)>,
    color: RGBColor,
    rank: usize,
) -> DrawResult<DB>
where
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    if rank == 0 {
        c.draw_series(LineSeries::new(pts, color.stroke_width(3)))?;
    } else {
        let dash = 14 - 4 * (rank.min(3) as u32 - 1);
        c.draw_series(DashedLineSeries::new(
            pts,
            dash,
            dash + 6 * rank as u32,
            color.stroke_width(3),
        ))?;
    }
    Ok(())
}

/// The colour of the variant at index `i` (Tableau 10).
pub(crate) fn variant_color(i: usize) -> RGBColor {
    const P: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    P[i % P.len()]
}

/// A linear chart over time (seconds divided by the time unit, and a level or rate).
pub(crate) type Linear<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A linear chart in `area` with the house margins: `(top, bottom)` margins and `x_axis`
/// pixels under the plot for the x axis (0 when a panel below carries it).
pub(crate) fn linear<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    (top, bottom): (u32, u32),
    x_axis: u32,
    x_max: f64,
    y_max: f64,
) -> Result<Linear<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    ChartBuilder::on(area)
        .margin_left(10)
        .margin_right(30)
        .margin_top(top)
        .margin_bottom(bottom)
        .x_label_area_size(x_axis)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
}

fn tick_label(v: &f64) -> String {
    tick(*v)
}

/// The house mesh of a linear chart: the fonts, short tick labels on both axes, a faint major
/// grid and no minor one. Callers add axis descriptions and may replace a formatter.
pub(crate) fn house_mesh<'m, 'a, 'b, DB: DrawingBackend>(
    mesh: &'m mut plotters::chart::MeshStyle<
        'a,
        'b,
        plotters::coord::types::RangedCoordf64,
        plotters::coord::types::RangedCoordf64,
        DB,
    >,
    f: &Fonts,
) -> &'m mut plotters::chart::MeshStyle<
    'a,
    'b,
    plotters::coord::types::RangedCoordf64,
    plotters::coord::types::RangedCoordf64,
    DB,
> {
    mesh.axis_desc_style((FONT, f.axis))
        .label_style((FONT, f.tick))
        .x_label_formatter(&tick_label)
        .y_label_formatter(&tick_label)
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.1))
}

/// Font sizes, chosen for 1200×700 and scaled with the chart's height.
pub(crate) struct Fonts {
    pub title: f64,
    pub axis: f64,
    pub tick: f64,
    pub legend: f64,
}

pub(crate) fn fonts<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>) -> Fonts {
    let h = f64::from(root.dim_in_pixel().1.max(300));
    let k = (h / 700.0).clamp(0.6, 2.0);
    Fonts {
        title: 26.0 * k,
        axis: 19.0 * k,
        tick: 16.0 * k,
        legend: 17.0 * k,
    }
}

/// The time axis unit for a horizon: divisor from seconds and its label.
pub(crate) fn time_unit(horizon_s: f64) -> (f64, &'static str) {
    if horizon_s <= 600.0 {
        (1.0, "time (s)")
    } else if horizon_s <= 48.0 * 3600.0 {
        (60.0, "time (min)")
    } else if horizon_s <= 60.0 * 86_400.0 {
        (3600.0, "time (h)")
    } else {
        (86_400.0, "time (days)")
    }
}

/// Merges consecutive rows so at most `max` remain: counts are summed, levels keep the
/// bucket's maximum (so peaks stay visible), panic is "any".
pub(crate) fn downsample(rows: &[SeriesRow], bucket_s: f64, max: usize) -> (Vec<SeriesRow>, f64) {
    if rows.len() <= max || max == 0 {
        return (rows.to_vec(), bucket_s);
    }
    let k = rows.len().div_ceil(max);
    let out = rows.chunks(k).map(SeriesRow::merged).collect();
    (out, bucket_s * k as f64)
}

/// Axis tick text: short and stable (`0`, `2.5`, `1200`, `15k`).
pub(crate) fn tick(v: f64) -> String {
    let a = v.abs();
    if a >= 100_000.0 {
        format!("{}k", crate::fmt::num(v / 1000.0, 0))
    } else if a >= 10_000.0 {
        format!("{}k", crate::fmt::num(v / 1000.0, 1))
    } else if a >= 100.0 || a == 0.0 {
        crate::fmt::num(v, 0)
    } else if a >= 1.0 {
        crate::fmt::num(v, 2)
    } else {
        crate::fmt::num(v, 3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run with several revisions gets a traffic-share chart per variant, and it draws.
    #[test]
    fn several_revisions_get_a_traffic_share_chart() {
        use scalelab_core::result::{RevisionResult, RevisionSeries, Series, TrafficPoint};
        let mut v = crate::fixture::variant("baseline", 10.0, "m", 1.0);
        v.series = Some(Series {
            bucket_s: 1.0,
            rows: (0..4)
                .map(|i| SeriesRow {
                    t_s: f64::from(i),
                    ready: 1,
                    ..SeriesRow::default()
                })
                .collect(),
            ..Series::default()
        });
        let rev = |name: &str, pct: [f64; 2], ready: Vec<u64>| RevisionResult {
            name: name.into(),
            traffic: vec![
                TrafficPoint {
                    t_s: 0.0,
                    percent: pct[0],
                },
                TrafficPoint {
                    t_s: 2.0,
                    percent: pct[1],
                },
            ],
            series: Some(RevisionSeries {
                ready,
                ..RevisionSeries::default()
            }),
            ..RevisionResult::default()
        };
        v.revisions = vec![
            rev("v1", [100.0, 0.0], vec![1, 1, 1, 0]),
            rev("v2", [0.0, 100.0], vec![0, 1, 1, 1]),
        ];
        let r = RunResult {
            variants: vec![v],
            ..RunResult::new("s", 1, scalelab_core::result::Mode::Sim, 4.0)
        };
        let charts = charts_for(&r);
        let c = charts
            .iter()
            .find(|c| c.kind == ChartKind::Revisions(0))
            .expect("a revisions chart");
        assert_eq!(c.name, "revisions-baseline");
        let svg = render_svg(&r, c, (600, 400)).expect("draws");
        assert!(svg.contains("traffic %"), "{svg}");
        // One revision: no such chart.
        let mut one = r.clone();
        one.variants[0].revisions.truncate(1);
        assert!(
            charts_for(&one)
                .iter()
                .all(|c| !matches!(c.kind, ChartKind::Revisions(_)))
        );
    }

    #[test]
    fn downsample_keeps_sums_and_peaks() {
        let rows: Vec<SeriesRow> = (0..10)
            .map(|i| SeriesRow {
                t_s: f64::from(i),
                arrivals: 1,
                ready: u64::from(i == 3) * 5,
                panic: i == 7,
                ..Default::default()
            })
            .collect();
        let (d, b) = downsample(&rows, 1.0, 4);
        assert_eq!(b, 3.0);
        assert_eq!(d.len(), 4);
        assert_eq!(d.iter().map(|r| r.arrivals).sum::<u64>(), 10);
        assert_eq!(d[1].ready, 5);
        assert!(d[2].panic && !d[0].panic);
        assert_eq!(d[1].t_s, 3.0);
    }

    #[test]
    fn time_units_follow_the_horizon() {
        assert_eq!(time_unit(60.0).1, "time (s)");
        assert_eq!(time_unit(1800.0).1, "time (min)");
        assert_eq!(time_unit(86_400.0 * 7.0).1, "time (h)");
        assert_eq!(time_unit(86_400.0 * 90.0).1, "time (days)");
    }
}
