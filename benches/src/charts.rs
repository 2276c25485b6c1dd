//! Charts as SVG, drawn with `plotters`: the lines of a berth-load report (over time, or by
//! ladder step) and the bars of `make compare` (answers/s per cell, the floor and the peer
//! beside berth). Axes carry units and ticks; every series is in the legend.

use plotters::prelude::*;

/// Width and height of every chart, in pixels.
const SIZE: (u32, u32) = (780, 320);

/// One line of a line chart.
pub struct Line<'a> {
    pub name: &'a str,
    pub colour: RGBColor,
    /// (x, y) points in x order.
    pub points: Vec<(f64, f64)>,
}

/// A labelled dashed vertical line across a line chart (a ladder step, a hot reload).
pub struct Mark {
    pub at: f64,
    pub label: String,
}

/// What a line chart's axes say.
pub struct Axes<'a> {
    pub title: &'a str,
    /// The x axis's description, with its unit (`time (s)`).
    pub x: &'a str,
    /// The y axis's description, with its unit (`answers/s`, `latency (ms)`).
    pub y: &'a str,
    /// Names for the integer x positions 1, 2, … (ladder steps), instead of numbers.
    pub x_names: Option<Vec<String>>,
}

/// Why a chart could not be drawn.
#[derive(Debug)]
pub struct ChartError(pub String);

impl std::fmt::Display for ChartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot draw the chart: {}", self.0)
    }
}

impl std::error::Error for ChartError {}

fn failed(e: impl std::fmt::Display) -> ChartError {
    ChartError(e.to_string())
}

/// A line chart of `lines` with `marks`, as an SVG document.
pub fn line_chart(axes: &Axes<'_>, lines: &[Line<'_>], marks: &[Mark]) -> Result<String, ChartError> {
    let points = || lines.iter().flat_map(|line| line.points.iter());
    let x_min = points().map(|p| p.0).fold(f64::INFINITY, f64::min).min(0.0);
    let x_max = points().map(|p| p.0).fold(1.0f64, f64::max).max(marks.iter().map(|m| m.at).fold(0.0, f64::max));
    let y_max = points().map(|p| p.1).fold(0.0f64, f64::max).max(1e-9) * 1.15;
    let (x_min, x_max) = match &axes.x_names {
        // Steps sit in the middle of their slot, not on the frame.
        Some(names) => (0.5, names.len() as f64 + 0.5),
        None => (x_min, x_max),
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(axes.title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x_min..x_max, 0.0..y_max)
            .map_err(failed)?;
        let names = axes.x_names.clone();
        let x_format = move |x: &f64| match &names {
            Some(names) => {
                let slot = x.round();
                if (x - slot).abs() < 1e-6 && slot >= 1.0 {
                    names.get(slot as usize - 1).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
            None => format_number(*x),
        };
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(axes.x).y_desc(axes.y).x_label_formatter(&x_format).y_label_formatter(&|y| format_number(*y));
        if let Some(names) = &axes.x_names {
            mesh.x_labels(names.len() + 1);
        }
        mesh.light_line_style(WHITE).draw().map_err(failed)?;
        for mark in marks {
            let style = RGBColor(190, 130, 160).stroke_width(1);
            let dashed = DashedLineSeries::new([(mark.at, 0.0), (mark.at, y_max / 1.15)], 4, 4, style);
            chart.draw_series(dashed).map_err(failed)?;
            let label = Text::new(mark.label.clone(), (mark.at, y_max / 1.08), ("sans-serif", 11).into_font());
            chart.draw_series(std::iter::once(label)).map_err(failed)?;
        }
        for line in lines {
            let colour = line.colour;
            chart
                .draw_series(LineSeries::new(line.points.iter().copied(), colour.stroke_width(2)))
                .map_err(failed)?
                .label(line.name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

/// One series of a bar chart: a name, a colour, one value per group (`None`: no bar).
pub struct Bars<'a> {
    pub name: &'a str,
    pub colour: RGBColor,
    pub values: Vec<Option<f64>>,
}

/// A grouped bar chart: for each of `groups` (along x), one bar per series, as SVG.
pub fn bar_chart(title: &str, y: &str, groups: &[String], series: &[Bars<'_>]) -> Result<String, ChartError> {
    let y_max = series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0f64, |a, b| a.max(*b)).max(1e-9) * 1.15;
    let width = 0.8 / series.len().max(1) as f64;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (SIZE.0.max(90 * groups.len() as u32), SIZE.1 + 40)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..groups.len() as f64, 0.0..y_max)
            .map_err(failed)?;
        let names = groups.to_vec();
        let x_format = move |x: &f64| {
            // Group n spans [n, n + 1): its name sits under the middle.
            let slot = x - 0.5;
            if (slot - slot.round()).abs() < 1e-6 && slot >= 0.0 {
                names.get(slot.round() as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(groups.len() * 2 + 1)
            .x_label_formatter(&x_format)
            .y_desc(y)
            .y_label_formatter(&|v| format_number(*v))
            .light_line_style(WHITE)
            .draw()
            .map_err(failed)?;
        for (n, bars) in series.iter().enumerate() {
            let colour = bars.colour;
            let offset = 0.1 + width * n as f64;
            let rectangles = bars.values.iter().enumerate().filter_map(|(group, value)| {
                let left = group as f64 + offset;
                value.map(|v| Rectangle::new([(left, 0.0), (left + width * 0.92, v)], colour.filled()))
            });
            chart
                .draw_series(rectangles)
                .map_err(failed)?
                .label(bars.name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
        }
        // Bars grow to the right (more connections): the legend goes top left.
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), ChartError> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(failed)
}

/// A tick label: thousands as `k`, whole numbers without decimals, others with up to two.
fn format_number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 10_000.0 {
        format!("{:.0}k", value / 1000.0)
    } else if magnitude >= 10.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_chart_has_its_axes_marks_and_legend() {
        let axes = Axes { title: "answers per second", x: "time since start (s)", y: "answers/s", x_names: None };
        let lines = [
            Line {
                name: "p50",
                colour: RGBColor(51, 102, 204),
                points: vec![(0.0, 1.0), (1.0, 20_000.0), (2.0, 18_000.0)],
            },
            Line { name: "p99", colour: RGBColor(204, 51, 51), points: vec![(0.0, 2.0), (1.0, 25_000.0)] },
        ];
        let svg = line_chart(&axes, &lines, &[Mark { at: 1.0, label: "500 conns".into() }]).expect("drawn");
        for text in ["answers per second", "time since start (s)", "answers/s", "p50", "p99", "500 conns", "20k"] {
            assert!(svg.contains(text), "{text} missing from the chart");
        }
        let stepped = Axes { x_names: Some(vec!["150".into(), "500".into()]), ..axes };
        let svg = line_chart(&stepped, &lines[..1], &[]).expect("drawn");
        assert!(svg.contains(">\n150\n<") || svg.contains(">150<"), "steps named by their connections");
    }

    #[test]
    fn tick_labels_are_short() {
        let labels: Vec<String> = [0.0, 2.0, 2.5, 0.25, 12.4, 25_000.0].into_iter().map(format_number).collect();
        assert_eq!(labels, ["0", "2", "2.5", "0.25", "12", "25k"]);
    }

    #[test]
    fn a_bar_chart_names_each_group_and_series() {
        let groups = vec!["http ×1".to_owned(), "ws ×64".to_owned()];
        let series = [
            Bars { name: "floor", colour: RGBColor(150, 150, 150), values: vec![Some(12_000.0), None] },
            Bars { name: "berth-reuse", colour: RGBColor(34, 150, 90), values: vec![Some(8_000.0), Some(90_000.0)] },
        ];
        let svg = bar_chart("answers", "answers/s", &groups, &series).expect("drawn");
        for text in ["http ×1", "ws ×64", "floor", "berth-reuse", "answers/s"] {
            assert!(svg.contains(text), "{text} missing from the chart");
        }
        // Each series' colour fills its bars and its legend key; a missing value draws nothing.
        assert_eq!(svg.matches("fill=\"#969696\"").count(), 1 + 1, "floor: one bar, one key");
        assert_eq!(svg.matches("fill=\"#22965A\"").count(), 2 + 1, "berth-reuse: two bars, one key");
    }
}
