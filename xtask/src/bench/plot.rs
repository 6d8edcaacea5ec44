//! `build/bench.svg`: one horizontal bar per row of the main table, stacked by exception level
//! where the profile boot split it, with the previous run's bar beside it (thinner, paler).

use std::fmt::Write as _;

/// The parts a bar is stacked from, in order, with their colours.
pub const PARTS: [(&str, &str); 4] = [
    ("EL3", "#4e79a7"),
    ("S-EL2", "#e15759"),
    ("S-EL1", "#59a14f"),
    ("NS", "#b07aa1"),
];
/// A bar with no split.
const PLAIN: &str = "#8c8c8c";

/// One row of the plot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bar {
    /// What the row is.
    pub label: String,
    /// Median guest instructions.
    pub median: u64,
    /// Instructions per call by [`PARTS`], if the profile boot split the row.
    pub split: Option<[f64; 4]>,
    /// The previous run's median and split, if it had the row.
    pub previous: Option<(u64, Option<[f64; 4]>)>,
}

const WIDTH: f64 = 960.0;
const LABEL: f64 = 240.0;
const BARS: f64 = 600.0;
const ROW: f64 = 34.0;
const TOP: f64 = 64.0;

/// The SVG document.
pub fn svg(title: &str, bars: &[Bar]) -> String {
    let largest = bars
        .iter()
        .flat_map(|b| [Some(b.median), b.previous.map(|p| p.0)])
        .flatten()
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let scale = BARS / largest;
    let height = TOP + ROW * bars.len() as f64 + 16.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="{WIDTH}" height="{height}" fill="white"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text x="8" y="20" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );
    // The legend.
    let mut x = 8.0;
    for (name, colour) in PARTS.iter().chain([("no split", PLAIN)].iter()) {
        let _ = writeln!(
            out,
            r#"<rect x="{x}" y="32" width="12" height="12" fill="{colour}"/><text x="{}" y="42">{name}</text>"#,
            x + 16.0
        );
        x += 24.0 + 8.0 * name.len() as f64;
    }
    let _ = writeln!(
        out,
        r#"<rect x="{x}" y="36" width="12" height="6" fill="{PLAIN}" fill-opacity="0.45"/><text x="{}" y="42">previous run</text>"#,
        x + 16.0
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            LABEL - 8.0,
            y + 13.0,
            escape(&bar.label)
        );
        stacked(&mut out, y, 16.0, bar.median, bar.split, scale, 1.0);
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}">{}</text>"#,
            LABEL + bar.median as f64 * scale + 4.0,
            y + 13.0,
            super::thousands(bar.median)
        );
        if let Some((median, split)) = bar.previous {
            stacked(&mut out, y + 18.0, 8.0, median, split, scale, 0.45);
            let _ = writeln!(
                out,
                r##"<text x="{}" y="{}" font-size="9" fill="#555">{}</text>"##,
                LABEL + median as f64 * scale + 4.0,
                y + 26.0,
                super::thousands(median)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

/// One bar of `median` at height `y`, in the split's parts scaled to the median (the split's
/// sum may differ from it by the accounting's error), or plain.
fn stacked(
    out: &mut String,
    y: f64,
    thickness: f64,
    median: u64,
    split: Option<[f64; 4]>,
    scale: f64,
    opacity: f64,
) {
    let length = median as f64 * scale;
    let sum: f64 = split.map_or(0.0, |s| s.iter().sum());
    match split {
        Some(parts) if sum > 0.0 => {
            let mut x = LABEL;
            for (value, (name, colour)) in parts.iter().zip(PARTS) {
                let width = length * value / sum;
                if width <= 0.0 {
                    continue;
                }
                let _ = writeln!(
                    out,
                    r#"<rect x="{x:.1}" y="{y}" width="{width:.1}" height="{thickness}" fill="{colour}" fill-opacity="{opacity}"><title>{name}: {value:.0}</title></rect>"#
                );
                x += width;
            }
        }
        _ => {
            let _ = writeln!(
                out,
                r#"<rect x="{LABEL}" y="{y}" width="{length:.1}" height="{thickness}" fill="{PLAIN}" fill-opacity="{opacity}"/>"#
            );
        }
    }
}

/// Text safe inside an SVG element.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_stacked_scaled_and_paired_with_the_previous_run() {
        let bars = [
            Bar {
                label: "(a) FFA_ID_GET".into(),
                median: 300,
                split: Some([296.0, 0.0, 0.0, 4.0]),
                previous: Some((600, None)),
            },
            Bar {
                label: "(d) <client>".into(),
                median: 600,
                split: None,
                previous: None,
            },
        ];
        let svg = svg("bench & profile", &bars);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>\n"));
        assert!(svg.contains("bench &amp; profile"));
        assert!(svg.contains("(d) &lt;client&gt;"));
        // The largest value (600) spans the whole bar area: (a)'s 300 is half of it, split
        // 296 : 4, and a part of 0 draws nothing.
        assert!(
            svg.contains(r##"<rect x="240.0" y="64" width="296.0" height="16" fill="#4e79a7""##)
        );
        assert!(svg.contains(r##"width="4.0" height="16" fill="#b07aa1""##));
        assert!(!svg.contains(r##"fill="#e15759" fill-opacity="1""##));
        assert!(svg.contains(
            r##"<rect x="240" y="82" width="600.0" height="8" fill="#8c8c8c" fill-opacity="0.45"/>"##
        ));
        assert!(svg.contains(
            r##"<rect x="240" y="98" width="600.0" height="16" fill="#8c8c8c" fill-opacity="1"/>"##
        ));
        assert_eq!(svg.matches("<rect").count(), 1 + 6 + 2 + 1 + 1);
    }
}
