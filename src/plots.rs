//! PNG plots of a run with `plotters`: line charts (training curves, macro-F1 against β) and
//! a reliability diagram of the grade probabilities.
//!
//! Text is drawn with `ab_glyph` from a TrueType font read at run time ([`find_font`]:
//! `TAOSR1_FONT`, else common system paths), so no system font library is linked. Each PNG
//! is drawn to a temporary file next to its target and renamed over it: a failed plot never
//! leaves a half-written file in place of a good one.
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::Error;

/// One named line of a [`line_chart`].
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// `(x, y)` points, drawn in order.
    pub points: Vec<(f64, f64)>,
}

/// One bin of a reliability diagram: items whose top probability fell in `[lo, hi)`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReliabilityBin {
    /// Lower edge.
    pub lo: f64,
    /// Upper edge.
    pub hi: f64,
    /// Items in the bin.
    pub count: usize,
    /// Mean top probability of those items.
    pub confidence: f64,
    /// Share of them whose argmax grade was right.
    pub accuracy: f64,
}

/// Top-label calibration: items binned by their top probability into `bins` equal-width
/// bins; returns the bins and the expected calibration error (the count-weighted mean of
/// |accuracy − confidence| over the bins).
///
/// # Errors
/// [`Error::Input`] when the lengths differ, there are no items or no bins, or a confidence
/// is not in `[0, 1]`.
///
/// ```
/// let (bins, ece) = taosr1::plots::reliability(&[0.9, 0.9, 0.6, 0.6], &[true, true, true, false], 10).unwrap();
/// assert_eq!(bins.iter().map(|b| b.count).sum::<usize>(), 4);
/// // bin [0.9, 1.0): confidence 0.9, accuracy 1.0; bin [0.6, 0.7): 0.6 vs 0.5
/// assert!((ece - (0.5 * 0.1 + 0.5 * 0.1)).abs() < 1e-6); // (f32 confidences)
/// ```
pub fn reliability(
    confidences: &[f32],
    correct: &[bool],
    bins: usize,
) -> Result<(Vec<ReliabilityBin>, f64), Error> {
    if confidences.len() != correct.len() || confidences.is_empty() || bins == 0 {
        return Err(Error::Input(format!(
            "reliability: {} confidences, {} outcomes, {bins} bins",
            confidences.len(),
            correct.len()
        )));
    }
    if let Some((i, c)) = confidences
        .iter()
        .enumerate()
        .find(|(_, c)| !(0.0..=1.0).contains(*c))
    {
        return Err(Error::Input(format!(
            "reliability: confidence {c} of item {i} is not in [0, 1]"
        )));
    }
    let mut sums = vec![(0usize, 0.0f64, 0usize); bins];
    for (&c, &ok) in confidences.iter().zip(correct) {
        let b = ((f64::from(c) * bins as f64) as usize).min(bins - 1);
        sums[b].0 += 1;
        sums[b].1 += f64::from(c);
        sums[b].2 += usize::from(ok);
    }
    let n = confidences.len() as f64;
    let mut ece = 0.0;
    let out = sums
        .iter()
        .enumerate()
        .filter(|(_, s)| s.0 > 0)
        .map(|(b, &(count, conf, right))| {
            let bin = ReliabilityBin {
                lo: b as f64 / bins as f64,
                hi: (b + 1) as f64 / bins as f64,
                count,
                confidence: conf / count as f64,
                accuracy: right as f64 / count as f64,
            };
            ece += count as f64 / n * (bin.accuracy - bin.confidence).abs();
            bin
        })
        .collect();
    Ok((out, ece))
}

/// A TrueType font for the plots' text: the file `TAOSR1_FONT` names, else the first of a
/// few common system paths (DejaVu, Liberation, Noto; Linux and macOS) that exists.
///
/// ```
/// // `None` only on a machine without any of them
/// if let Some(p) = taosr1::plots::find_font() { assert!(p.is_file()); }
/// ```
pub fn find_font() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TAOSR1_FONT").map(PathBuf::from) {
        return p.is_file().then_some(p);
    }
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
        "/System/Library/Fonts/Supplemental/Arial.ttf",
        "/Library/Fonts/Arial.ttf",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// Register the font once per process (plotters keeps it for the process's lifetime).
fn ensure_font() -> Result<(), Error> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let path = find_font().ok_or_else(|| {
            "no TrueType font found for the plots' text: set TAOSR1_FONT to a .ttf file".to_string()
        })?;
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| format!("{}: not a TrueType font", path.display()))
    })
    .clone()
    .map_err(Error::Input)
}

/// Draw into a temporary PNG beside `path`, then rename it over `path`.
fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, plotters::coord::Shift>) -> Result<(), String>,
) -> Result<(), Error> {
    ensure_font()?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Input(format!("{}: not a file name", path.display())))?;
    let tmp = path.with_file_name(format!(".{name}.{}.tmp.png", std::process::id()));
    let result = (|| {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(&root)?;
        root.present().map_err(|e| e.to_string())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::Input(format!("{}: {e}", path.display())));
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

fn range(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-6);
    (lo - pad, hi + pad)
}

/// A line chart of `series` with a legend, written to `path` (PNG, 900×540).
///
/// # Errors
/// [`Error::Input`] when there is nothing to draw, no font ([`find_font`]) or plotters
/// fails; [`Error::Io`] when the file cannot be written.
///
/// ```
/// use taosr1::plots::{line_chart, Series};
/// let path = std::env::temp_dir().join(format!("taosr1-doc-line-{}.png", std::process::id()));
/// let s = Series { name: "loss".into(), points: vec![(0.0, 2.0), (1.0, 1.0), (2.0, 0.5)] };
/// match line_chart(&path, "SFT", "step", "loss", &[s]) {
///     Ok(()) => { assert!(std::fs::metadata(&path).unwrap().len() > 1000); std::fs::remove_file(&path).unwrap(); }
///     Err(e) => assert!(taosr1::plots::find_font().is_none(), "{e}"), // no font on this machine
/// }
/// ```
pub fn line_chart(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
) -> Result<(), Error> {
    let all = series.iter().flat_map(|s| s.points.iter().copied());
    if all.clone().next().is_none() {
        return Err(Error::Input(format!(
            "{}: no points to plot",
            path.display()
        )));
    }
    let (x0, x1) = range(all.clone().map(|p| p.0));
    let (y0, y1) = range(all.map(|p| p.1));
    render(path, (900, 540), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 24))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, s) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                // sparse series (a validation check every k steps, a single point) get
                // markers, so a one-point series is visible too
                .draw_series(
                    LineSeries::new(s.points.iter().copied(), color.stroke_width(2))
                        .point_size(if s.points.len() <= 60 { 3 } else { 0 }),
                )
                .map_err(|e| e.to_string())?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())
    })
}

/// A reliability diagram: each non-empty bin's accuracy against its mean confidence (point
/// size by count), the diagonal of perfect calibration, and the ECE in the title.
///
/// # Errors
/// As [`line_chart`], and those of [`reliability`].
///
/// ```
/// let path = std::env::temp_dir().join(format!("taosr1-doc-rel-{}.png", std::process::id()));
/// let (bins, ece) = taosr1::plots::reliability(&[0.9, 0.8, 0.4], &[true, false, true], 10).unwrap();
/// if taosr1::plots::find_font().is_some() {
///     taosr1::plots::reliability_diagram(&path, "model", &bins, ece).unwrap();
///     std::fs::remove_file(&path).unwrap();
/// }
/// ```
pub fn reliability_diagram(
    path: &Path,
    title: &str,
    bins: &[ReliabilityBin],
    ece: f64,
) -> Result<(), Error> {
    let total: usize = bins.iter().map(|b| b.count).sum::<usize>().max(1);
    render(path, (640, 600), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(format!("{title} (ECE {ece:.3})"), ("sans-serif", 22))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("top grade probability")
            .y_desc("accuracy")
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.4)))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(
                bins.iter().map(|b| (b.confidence, b.accuracy)),
                BLUE.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(bins.iter().map(|b| {
                let r = 3.0 + 12.0 * (b.count as f64 / total as f64).sqrt();
                Circle::new((b.confidence, b.accuracy), r as i32, BLUE.filled())
            }))
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}
