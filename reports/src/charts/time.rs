//! Charts over time: the per-variant timeline, all variants' instances, cold starts.

use plotters::coord::Shift;
use plotters::prelude::*;
use scalelab_core::result::{RunResult, SeriesRow};

use super::{
    DrawResult, FONT, Fonts, Swatch, downsample, house_mesh, legend_strip, linear, tick, time_unit,
    variant_color,
};

/// Most points per line: beyond this, buckets are merged (a chart is 1200 px wide).
const MAX_POINTS: usize = 1200;

const PANIC_SHADE: RGBColor = RGBColor(255, 170, 60);
const ZERO_SHADE: RGBColor = RGBColor(150, 150, 150);
const ARRIVALS: RGBColor = RGBColor(31, 119, 180);
const ERRORS: RGBColor = RGBColor(214, 39, 40);
const READY: RGBColor = RGBColor(44, 160, 44);
const DESIRED: RGBColor = RGBColor(30, 30, 30);
const STARTING: RGBColor = RGBColor(255, 127, 14);

/// The horizon shown: the document's duration, or the series' end when longer.
fn horizon(r: &RunResult) -> f64 {
    let end = r
        .variants
        .iter()
        .filter_map(|v| v.series.as_ref())
        .filter_map(|s| s.rows.last().map(|row| row.t_s + s.bucket_s))
        .fold(0.0, f64::max);
    r.duration_s.max(end).max(1.0)
}

/// `(start, end)` intervals, in seconds, where `pred` holds for consecutive rows.
fn spans(rows: &[SeriesRow], bucket_s: f64, pred: impl Fn(&SeriesRow) -> bool) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut open: Option<(f64, f64)> = None;
    for r in rows {
        if pred(r) {
            open = Some(match open {
                Some((s, _)) => (s, r.t_s + bucket_s),
                None => (r.t_s, r.t_s + bucket_s),
            });
        } else if let Some(span) = open.take() {
            out.push(span);
        }
    }
    out.extend(open);
    out
}

/// Step-line points: each value holds for its whole bucket.
fn steps(
    rows: &[SeriesRow],
    bucket_s: f64,
    div: f64,
    f: impl Fn(&SeriesRow) -> f64,
) -> Vec<(f64, f64)> {
    let mut pts = Vec::with_capacity(rows.len() * 2);
    for r in rows {
        let y = f(r);
        pts.push((r.t_s / div, y));
        pts.push(((r.t_s + bucket_s) / div, y));
    }
    pts
}

pub(super) fn timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    f: &Fonts,
    r: &RunResult,
    index: usize,
) -> DrawResult<DB> {
    let Some(series) = r.variants.get(index).and_then(|v| v.series.as_ref()) else {
        return Ok(());
    };
    let (rows, bucket) = downsample(&series.rows, series.bucket_s.max(1e-9), MAX_POINTS);
    if r.mode == scalelab_core::result::Mode::Load {
        return load_timeline(root, r, &rows, bucket, f);
    }
    let hz = horizon(r);
    let (div, xlabel) = time_unit(hz);
    let x_max = hz / div;
    let panic = spans(&rows, bucket, |x| x.panic);
    let zero = spans(&rows, bucket, |x| x.ready + x.starting == 0);
    let any_errors = rows.iter().any(|x| x.errors > 0);
    let any_starting = rows.iter().any(|x| x.starting > 0);

    let mut items = vec![("arrivals/s".to_string(), Swatch::Line(ARRIVALS, 2, false))];
    if any_errors {
        items.push(("errors/s".into(), Swatch::Line(ERRORS, 2, false)));
    }
    items.push(("ready instances".into(), Swatch::Line(READY, 3, false)));
    if any_starting {
        items.push(("ready + starting".into(), Swatch::Line(STARTING, 1, false)));
    }
    items.push((
        "desired (autoscaler)".into(),
        Swatch::Line(DESIRED, 2, true),
    ));
    if !panic.is_empty() {
        items.push(("panic mode".into(), Swatch::Patch(PANIC_SHADE.mix(0.4))));
    }
    if !zero.is_empty() {
        items.push((
            "no instance (scaled to zero)".into(),
            Swatch::Patch(ZERO_SHADE.mix(0.25)),
        ));
    }
    let root = legend_strip(root, &items, f.legend)?;
    let height = root.dim_in_pixel().1;
    let (top, bottom) = root.split_vertically(height * 45 / 100);

    // Requests per second.
    let rate = |n: u64| n as f64 / bucket;
    let y_max = headroom(rows.iter().map(|x| rate(x.arrivals).max(rate(x.errors))));
    let mut c = requests_panel(&top, x_max, y_max, f)?;
    shade(&mut c, &panic, &zero, div, y_max)?;
    c.draw_series(LineSeries::new(
        steps(&rows, bucket, div, |x| rate(x.arrivals)),
        ARRIVALS.stroke_width(2),
    ))?;
    if any_errors {
        c.draw_series(LineSeries::new(
            steps(&rows, bucket, div, |x| rate(x.errors)),
            ERRORS.stroke_width(2),
        ))?;
    }

    // Instances.
    let (i_max, i_labels) = count_axis(
        rows.iter()
            .map(|x| (x.ready + x.starting).max(x.desired))
            .max()
            .unwrap_or(0),
    );
    let mut c = linear(&bottom, (10, 5), 50, x_max, i_max)?;
    house_mesh(&mut c.configure_mesh(), f)
        .x_desc(xlabel)
        .y_desc("instances")
        .y_labels(i_labels)
        .y_label_formatter(&count_tick)
        .draw()?;
    shade(&mut c, &panic, &zero, div, i_max)?;
    if any_starting {
        c.draw_series(LineSeries::new(
            steps(&rows, bucket, div, |x| (x.ready + x.starting) as f64),
            STARTING.stroke_width(1),
        ))?;
    }
    c.draw_series(LineSeries::new(
        steps(&rows, bucket, div, |x| x.ready as f64),
        READY.stroke_width(3),
    ))?;
    c.draw_series(DashedLineSeries::new(
        steps(&rows, bucket, div, |x| x.desired as f64),
        8,
        5,
        DESIRED.stroke_width(2),
    ))?;
    Ok(())
}

const COMPLETIONS: RGBColor = RGBColor(44, 160, 44);
const P99: RGBColor = RGBColor(148, 103, 189);

/// The timeline of a load run: what the generator measured (requests sent, answered and
/// failed per second; the p99 latency of each second), and nothing about instances, which a
/// load run against a URL cannot see.
fn load_timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    r: &RunResult,
    rows: &[SeriesRow],
    bucket: f64,
    f: &Fonts,
) -> DrawResult<DB> {
    let hz = horizon(r);
    let (div, xlabel) = time_unit(hz);
    let x_max = hz / div;
    let any_errors = rows.iter().any(|x| x.errors > 0);
    let mut items = vec![
        ("sent/s".to_string(), Swatch::Line(ARRIVALS, 2, false)),
        ("answered/s".to_string(), Swatch::Line(COMPLETIONS, 2, true)),
    ];
    if any_errors {
        items.push(("errors/s".into(), Swatch::Line(ERRORS, 2, false)));
    }
    items.push((
        "p99 latency of the second".into(),
        Swatch::Line(P99, 2, false),
    ));
    let root = legend_strip(root, &items, f.legend)?;
    let height = root.dim_in_pixel().1;
    let (top, bottom) = root.split_vertically(height * 50 / 100);
    let rate = |n: u64| n as f64 / bucket;
    let y_max = headroom(rows.iter().map(|x| {
        rate(x.arrivals)
            .max(rate(x.completions))
            .max(rate(x.errors))
    }));
    let mut c = requests_panel(&top, x_max, y_max, f)?;
    c.draw_series(LineSeries::new(
        steps(rows, bucket, div, |x| rate(x.arrivals)),
        ARRIVALS.stroke_width(2),
    ))?;
    c.draw_series(DashedLineSeries::new(
        steps(rows, bucket, div, |x| rate(x.completions)),
        8,
        5,
        COMPLETIONS.stroke_width(2),
    ))?;
    if any_errors {
        c.draw_series(LineSeries::new(
            steps(rows, bucket, div, |x| rate(x.errors)),
            ERRORS.stroke_width(2),
        ))?;
    }
    let p_max = headroom(rows.iter().map(|x| x.p99_ms));
    let mut c = linear(&bottom, (10, 5), 50, x_max, p_max)?;
    house_mesh(&mut c.configure_mesh(), f)
        .x_desc(xlabel)
        .y_desc("p99 latency (ms)")
        .draw()?;
    c.draw_series(LineSeries::new(
        steps(rows, bucket, div, |x| x.p99_ms),
        P99.stroke_width(2),
    ))?;
    Ok(())
}

/// The top of a value axis: the largest value (at least 1) with 15 % room above it.
fn headroom(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, f64::max).max(1.0) * 1.15
}

/// The upper panel of a timeline: requests per second, its time axis unlabelled.
fn requests_panel<'a, DB: DrawingBackend>(
    top: &'a DrawingArea<DB, Shift>,
    x_max: f64,
    y_max: f64,
    f: &super::Fonts,
) -> Result<super::Linear<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut c = linear(top, (5, 0), 30, x_max, y_max)?;
    house_mesh(&mut c.configure_mesh(), f)
        .y_desc("requests/s")
        .draw()?;
    Ok(c)
}

fn shade<'a, DB: DrawingBackend + 'a>(
    c: &mut ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    panic: &[(f64, f64)],
    zero: &[(f64, f64)],
    div: f64,
    y_max: f64,
) -> DrawResult<DB> {
    c.draw_series(zero.iter().map(|&(a, b)| {
        Rectangle::new(
            [(a / div, 0.0), (b / div, y_max)],
            ZERO_SHADE.mix(0.25).filled(),
        )
    }))?;
    c.draw_series(panic.iter().map(|&(a, b)| {
        Rectangle::new(
            [(a / div, 0.0), (b / div, y_max)],
            PANIC_SHADE.mix(0.4).filled(),
        )
    }))?;
    Ok(())
}

/// One line per variant from `f` over its (downsampled) rows.
fn per_variant<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fs: &Fonts,
    r: &RunResult,
    ylabel: &str,
    f: impl Fn(&[SeriesRow], f64, f64) -> Vec<(f64, f64)>,
) -> DrawResult<DB> {
    let hz = horizon(r);
    let (div, xlabel) = time_unit(hz);
    let lines: Vec<(usize, Vec<(f64, f64)>)> = r
        .variants
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let s = v.series.as_ref()?;
            let (rows, bucket) = downsample(&s.rows, s.bucket_s.max(1e-9), MAX_POINTS);
            Some((i, f(&rows, bucket, div)))
        })
        .collect();
    // Identical lines would hide each other: later ones are dashed on top and say so.
    let same_as = super::coincident(&lines.iter().map(|l| l.1.as_slice()).collect::<Vec<_>>());
    let items: Vec<(String, Swatch)> = lines
        .iter()
        .enumerate()
        .map(|(k, (i, _))| {
            let other = same_as[k].map(|j| r.variants[lines[j].0].name.as_str());
            (
                super::coincident_label(&r.variants[*i].name, other),
                Swatch::Line(variant_color(*i), 3, other.is_some()),
            )
        })
        .collect();
    let root = legend_strip(root, &items, fs.legend)?;
    let y_max = headroom(lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)));
    let mut c = linear(&root, (10, 5), 50, hz / div, y_max)?;
    house_mesh(&mut c.configure_mesh(), fs)
        .x_desc(xlabel)
        .y_desc(ylabel)
        .draw()?;
    for (k, (i, pts)) in lines.into_iter().enumerate() {
        let rank = super::coincidence_rank(&same_as, k);
        super::draw_line(&mut c, pts, variant_color(i), rank)?;
    }
    Ok(())
}

/// A y range for a count that peaks at `max`, and how many labels to ask for so small counts
/// get whole-number ticks.
fn count_axis(max: u64) -> (f64, usize) {
    let top = max.max(1);
    if top <= 10 {
        (top as f64 + 0.5, top as usize + 1)
    } else {
        (top as f64 * 1.1, 10)
    }
}

/// Tick text for counts: whole numbers only.
fn count_tick(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        tick(*v)
    } else {
        String::new()
    }
}

/// Ready instances of every variant, one small panel per variant on a shared time axis and a
/// shared scale (overlaid step lines of equal height hide each other).
pub(super) fn instances<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fs: &Fonts,
    r: &RunResult,
) -> DrawResult<DB> {
    let hz = horizon(r);
    let (div, xlabel) = time_unit(hz);
    let panels: Vec<(usize, &str, Vec<SeriesRow>, f64)> = r
        .variants
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let s = v.series.as_ref()?;
            let (rows, bucket) = downsample(&s.rows, s.bucket_s.max(1e-9), MAX_POINTS);
            Some((i, v.name.as_str(), rows, bucket))
        })
        .collect();
    let peak = panels
        .iter()
        .flat_map(|p| p.2.iter().map(|x| x.ready))
        .max()
        .unwrap_or(0);
    let (y_max, _) = count_axis(peak);
    let n = panels.len().max(1);
    let h = root.dim_in_pixel().1;
    let x_area = 50u32;
    let panel_h = (h.saturating_sub(x_area)) / n as u32;
    let mut rest = root.clone();
    for (k, (i, name, rows, bucket)) in panels.iter().enumerate() {
        let last = k + 1 == n;
        let height = if last { rest.dim_in_pixel().1 } else { panel_h };
        let (area, below) = rest.split_vertically(height);
        rest = below;
        let labels = if panel_h < 150 { 2 } else { 3 };
        let mut c = linear(
            &area,
            (6, 0),
            if last { x_area } else { 0 },
            hz / div,
            y_max,
        )?;
        let mut mesh = c.configure_mesh();
        house_mesh(&mut mesh, fs)
            .y_labels(labels)
            .y_label_formatter(&count_tick);
        if last {
            mesh.x_desc(xlabel);
        }
        mesh.draw()?;
        let col = variant_color(*i);
        c.draw_series(AreaSeries::new(
            steps(rows, *bucket, div, |x| x.ready as f64),
            0.0,
            col.mix(0.18),
        ))?;
        c.draw_series(LineSeries::new(
            steps(rows, *bucket, div, |x| x.ready as f64),
            col.stroke_width(3),
        ))?;
        let label = format!("{name}: ready instances");
        c.plotting_area().draw(&Text::new(
            label,
            (hz / div * 0.005, y_max * 0.97),
            TextStyle::from((FONT, fs.legend)).color(&col).pos(
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Left,
                    plotters::style::text_anchor::VPos::Top,
                ),
            ),
        ))?;
    }
    Ok(())
}

/// Each revision's configured share of the split (top, percent) and its ready instances
/// (bottom) over time, one colour per revision: what a deploy, a canary or a rollout did.
pub(super) fn revisions<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    f: &Fonts,
    r: &RunResult,
    index: usize,
) -> DrawResult<DB> {
    let Some(v) = r.variants.get(index) else {
        return Ok(());
    };
    let hz = horizon(r);
    let (div, xlabel) = time_unit(hz);
    let x_max = hz / div;
    let items: Vec<(String, Swatch)> = v
        .revisions
        .iter()
        .enumerate()
        .map(|(k, rev)| (rev.name.clone(), Swatch::Line(variant_color(k), 3, false)))
        .collect();
    let root = legend_strip(root, &items, f.legend)?;
    let height = root.dim_in_pixel().1;
    let (top, bottom) = root.split_vertically(height * 40 / 100);

    // Traffic share: each point holds until the next, the last until the horizon.
    let mut c = linear(&top, (5, 0), 30, x_max, 105.0)?;
    house_mesh(&mut c.configure_mesh(), f)
        .y_desc("traffic %")
        .draw()?;
    for (k, rev) in v.revisions.iter().enumerate() {
        let mut pts = Vec::with_capacity(rev.traffic.len() * 2 + 1);
        for (j, p) in rev.traffic.iter().enumerate() {
            let until = rev.traffic.get(j + 1).map_or(hz, |n| n.t_s);
            pts.push((p.t_s / div, p.percent));
            pts.push((until / div, p.percent));
        }
        c.draw_series(LineSeries::new(pts, variant_color(k).stroke_width(3)))?;
    }

    // Ready instances, from each revision's columns of the series.
    let rows = v.series.as_ref().map_or(0, |s| s.rows.len());
    let bucket = v.series.as_ref().map_or(1.0, |s| s.bucket_s.max(1e-9));
    let lines: Vec<Vec<(f64, f64)>> = v
        .revisions
        .iter()
        .map(|rev| {
            let ready = rev.series.as_ref().map_or(&[][..], |s| s.ready.as_slice());
            // A series merged into wider buckets for the JSON: spread it over the same span.
            let b = if ready.len() == rows || ready.is_empty() {
                bucket
            } else {
                bucket * rows as f64 / ready.len() as f64
            };
            let mut pts = Vec::with_capacity(ready.len() * 2);
            for (j, n) in ready.iter().enumerate() {
                let t = j as f64 * b;
                pts.push((t / div, *n as f64));
                pts.push(((t + b) / div, *n as f64));
            }
            pts
        })
        .collect();
    let peak = lines
        .iter()
        .flat_map(|l| l.iter().map(|p| p.1 as u64))
        .max()
        .unwrap_or(0);
    let (i_max, i_labels) = count_axis(peak);
    let mut c = linear(&bottom, (10, 5), 50, x_max, i_max)?;
    house_mesh(&mut c.configure_mesh(), f)
        .x_desc(xlabel)
        .y_desc("ready instances")
        .y_labels(i_labels)
        .y_label_formatter(&count_tick)
        .draw()?;
    for (k, pts) in lines.into_iter().enumerate() {
        c.draw_series(LineSeries::new(pts, variant_color(k).stroke_width(3)))?;
    }
    Ok(())
}

pub(super) fn cold_starts<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    f: &Fonts,
    r: &RunResult,
) -> DrawResult<DB> {
    per_variant(
        root,
        f,
        r,
        "cold starts (cumulative)",
        |rows, bucket, div| {
            let mut total = 0u64;
            let mut pts = vec![(rows.first().map_or(0.0, |x| x.t_s / div), 0.0)];
            for x in rows {
                total += x.cold_starts;
                pts.push(((x.t_s + bucket) / div, total as f64));
            }
            pts
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_join_consecutive_rows() {
        let rows: Vec<SeriesRow> = [false, true, true, false, true]
            .iter()
            .enumerate()
            .map(|(i, &p)| SeriesRow {
                t_s: i as f64 * 2.0,
                panic: p,
                ..Default::default()
            })
            .collect();
        assert_eq!(spans(&rows, 2.0, |r| r.panic), [(2.0, 6.0), (8.0, 10.0)]);
    }
}
