//! `kasa-decode --report`: the devices of one or more captures ([`kasa_decoder::inventory`]),
//! as one self-contained HTML page (inline CSS and SVG plots drawn by `plotters`; nothing is
//! fetched when it is viewed) or as Markdown. The findings come from
//! [`kasa_decoder::audit`]; they name secrets, never their values.

use crate::printer::timestamp;
use kasa_decoder::audit::Level;
use kasa_decoder::inventory::{DeviceReport, EnergySample, Report};
use plotters::prelude::*;
use std::fmt::Write;
use std::time::Duration;

/// One quantity of an energy-meter reading.
type Reading = fn(&EnergySample) -> Option<f64>;

/// One capture's report, under its name.
pub struct Capture {
    pub name: String,
    pub report: Report,
}

fn or_dash(v: &Option<String>) -> &str {
    v.as_deref().filter(|s| !s.is_empty()).unwrap_or("–")
}

/// The device's heading: its alias, else its model, else what tells it apart.
fn title(d: &DeviceReport) -> String {
    match (&d.identity.alias, &d.identity.model) {
        (Some(a), Some(m)) => format!("{a} ({m})"),
        (Some(a), None) => a.clone(),
        (None, Some(m)) => m.clone(),
        (None, None) => d.key.clone(),
    }
}

fn level(l: Level) -> &'static str {
    match l {
        Level::Warning => "warning",
        Level::Note => "note",
    }
}

fn join<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    let v: Vec<String> = items.into_iter().map(|x| x.to_string()).collect();
    if v.is_empty() {
        "–".to_owned()
    } else {
        v.join(", ")
    }
}

/// The rows of a device's identity table: (label, value).
fn facts(d: &DeviceReport) -> Vec<(&'static str, String)> {
    let id = &d.identity;
    let seen = match (d.first_time, d.last_time) {
        (Some(a), Some(b)) => format!("{} – {}", timestamp(a), timestamp(b)),
        _ => "–".to_owned(),
    };
    vec![
        ("Model", or_dash(&id.model).to_owned()),
        ("Alias", or_dash(&id.alias).to_owned()),
        ("MAC", or_dash(&id.mac).to_owned()),
        ("Device ID", or_dash(&id.device_id).to_owned()),
        ("Firmware", or_dash(&id.sw_ver).to_owned()),
        ("Hardware", or_dash(&id.hw_ver).to_owned()),
        ("Type", or_dash(&id.kind).to_owned()),
        ("Addresses", join(&d.addresses)),
        ("Transports", join(d.transports.iter().map(|t| t.as_str()))),
        ("Cloud servers contacted", join(&d.cloud_hosts)),
        ("Cloud servers configured", join(&d.cloud_config)),
        (
            "Messages",
            format!("{} requests, {} responses", d.requests, d.responses),
        ),
        ("Seen", seen),
    ]
}

/// Markdown, for a terminal or a ticket.
pub fn markdown(captures: &[Capture]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Kasa device report\n");
    for c in captures {
        let _ = writeln!(
            s,
            "Capture `{}`: {} device{}.\n",
            c.name,
            c.report.devices.len(),
            if c.report.devices.len() == 1 { "" } else { "s" }
        );
        for d in &c.report.devices {
            let _ = writeln!(s, "## {}\n", md(&title(d)));
            let _ = writeln!(s, "| | |\n|---|---|");
            for (k, v) in facts(d) {
                let _ = writeln!(s, "| {k} | {} |", md(&v));
            }
            s.push('\n');
            if !d.findings.is_empty() {
                let _ = writeln!(s, "### Findings\n");
                for (frame, f) in &d.findings {
                    let _ = writeln!(
                        s,
                        "* **{}** (frame {frame}, `kasa.security.{}`): {}",
                        level(f.level()),
                        f.kind().name(),
                        md(&f.to_string())
                    );
                }
                s.push('\n');
            }
            if !d.commands.is_empty() {
                let _ = writeln!(s, "### Commands that changed its state\n");
                let _ = writeln!(
                    s,
                    "| frame | time | from | transport | methods |\n|---|---|---|---|---|"
                );
                for c in &d.commands {
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} | {} | {} |",
                        c.frame,
                        timestamp(c.time),
                        c.sender,
                        c.transport.as_str(),
                        md(&c.methods)
                    );
                }
                if d.commands_dropped > 0 {
                    let _ = writeln!(s, "\n({} more not listed)", d.commands_dropped);
                }
                s.push('\n');
            }
            if !d.usage.is_empty() {
                let _ = writeln!(s, "### Who asked what\n");
                let _ = writeln!(
                    s,
                    "| from | method | count | first | last |\n|---|---|---|---|---|"
                );
                for ((ip, method), u) in &d.usage {
                    let _ = writeln!(
                        s,
                        "| {ip} | {} | {} | {} | {} |",
                        md(method),
                        u.count,
                        timestamp(u.first),
                        timestamp(u.last)
                    );
                }
                s.push('\n');
            }
            if !d.energy.is_empty() {
                let p: Vec<f64> = d.energy.iter().filter_map(|e| e.power_w).collect();
                if let (Some(min), Some(max)) = (
                    p.iter().copied().reduce(f64::min),
                    p.iter().copied().reduce(f64::max),
                ) {
                    let _ = writeln!(
                        s,
                        "Energy meter: {} readings, power {min:.1}–{max:.1} W (plots in the HTML report).\n",
                        d.energy.len()
                    );
                }
            }
        }
    }
    s
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.warning{color:#a40000;font-weight:600}.note{color:#555}\
section{border-top:2px solid #ddd;margin-top:2em}svg{display:block;margin:.5em 0}";

/// One self-contained HTML page.
pub fn html(captures: &[Capture]) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Kasa device report</title><style>{STYLE}</style></head><body>\n<h1>Kasa device report</h1>\n"
    );
    for c in captures {
        let _ = writeln!(
            s,
            "<p>Capture <code>{}</code>: {} device{}.</p>",
            esc(&c.name),
            c.report.devices.len(),
            if c.report.devices.len() == 1 { "" } else { "s" }
        );
        let start = c.report.first_time.unwrap_or_default();
        for d in &c.report.devices {
            let _ = writeln!(s, "<section><h2>{}</h2><table>", esc(&title(d)));
            for (k, v) in facts(d) {
                let _ = writeln!(s, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
            }
            s.push_str("</table>\n");
            if !d.findings.is_empty() {
                s.push_str("<h3>Findings</h3><ul>\n");
                for (frame, f) in &d.findings {
                    let l = level(f.level());
                    let _ = writeln!(
                        s,
                        "<li><span class=\"{l}\">{l}</span> (frame {frame}, <code>kasa.security.{}</code>): {}</li>",
                        f.kind().name(),
                        esc(&f.to_string())
                    );
                }
                s.push_str("</ul>\n");
            }
            if !d.energy.is_empty() {
                s.push_str("<h3>Energy meter</h3>\n");
                let series: [(&str, &str, Reading); 3] = [
                    ("Power", "W", |e| e.power_w),
                    ("Voltage", "V", |e| e.voltage_v),
                    ("Current", "A", |e| e.current_a),
                ];
                for (name, unit, get) in series {
                    let points: Vec<(f64, f64)> = d
                        .energy
                        .iter()
                        .filter_map(|e| Some((secs(e.time, start), get(e)?)))
                        .collect();
                    if !points.is_empty() {
                        s.push_str(&plot(&format!("{name} ({unit})"), &points, false));
                    }
                }
            }
            if !d.states.is_empty() {
                let on: Vec<(f64, f64)> = d
                    .states
                    .iter()
                    .filter_map(|x| Some((secs(x.time, start), f64::from(u8::from(x.on?)))))
                    .collect();
                let bright: Vec<(f64, f64)> = d
                    .states
                    .iter()
                    .filter_map(|x| Some((secs(x.time, start), f64::from(x.brightness?))))
                    .collect();
                if on.len() > 1 || bright.len() > 1 {
                    s.push_str("<h3>State</h3>\n");
                }
                if on.len() > 1 {
                    s.push_str(&plot("Relay / light on (1) or off (0)", &on, true));
                }
                if bright.len() > 1 {
                    s.push_str(&plot("Brightness (%)", &bright, true));
                }
            }
            if !d.commands.is_empty() {
                s.push_str("<h3>Commands that changed its state</h3><table><tr><th>frame</th><th>time</th><th>from</th><th>transport</th><th>methods</th></tr>\n");
                for c in &d.commands {
                    let _ = writeln!(
                        s,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        c.frame,
                        timestamp(c.time),
                        c.sender,
                        c.transport.as_str(),
                        esc(&c.methods)
                    );
                }
                s.push_str("</table>\n");
                if d.commands_dropped > 0 {
                    let _ = writeln!(s, "<p>({} more not listed)</p>", d.commands_dropped);
                }
            }
            if !d.usage.is_empty() {
                s.push_str("<h3>Who asked what</h3><table><tr><th>from</th><th>method</th><th>count</th><th>first</th><th>last</th></tr>\n");
                for ((ip, method), u) in &d.usage {
                    let _ = writeln!(
                        s,
                        "<tr><td>{ip}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(method),
                        u.count,
                        timestamp(u.first),
                        timestamp(u.last)
                    );
                }
                s.push_str("</table>\n");
            }
            s.push_str("</section>\n");
        }
        let _ = writeln!(
            s,
            "<p class=\"note\">Times on the plots are seconds since the capture's first message ({}).</p>",
            timestamp(start)
        );
    }
    s.push_str("</body></html>\n");
    s
}

fn secs(t: Duration, start: Duration) -> f64 {
    t.saturating_sub(start).as_secs_f64()
}

/// An inline SVG line plot of `points` (x: seconds); `steps` draws a state as steps.
fn plot(label: &str, points: &[(f64, f64)], steps: bool) -> String {
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (900, 220)).into_drawing_area();
        root.fill(&WHITE)?;
        let (x0, x1) = span(points.iter().map(|p| p.0));
        let (y0, y1) = span(points.iter().map(|p| p.1));
        let pad = ((y1 - y0) * 0.1).max(if steps { 0.1 } else { 1e-3 });
        let mut chart = ChartBuilder::on(&root)
            .caption(label, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))?;
        chart
            .configure_mesh()
            .x_desc("s")
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let line: Vec<(f64, f64)> = if steps {
            let mut v = Vec::with_capacity(points.len() * 2);
            for w in points.windows(2) {
                v.push(w[0]);
                v.push((w[1].0, w[0].1));
            }
            v.extend(points.last());
            v
        } else {
            points.to_vec()
        };
        chart.draw_series(LineSeries::new(line, BLUE.stroke_width(2)))?;
        if !steps && points.len() <= 200 {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 2, BLUE.filled())))?;
        }
        root.present()?;
        Ok(())
    })();
    match drawn {
        Ok(()) => svg,
        Err(e) => format!("<p>({label}: not drawn: {})</p>", esc(&e.to_string())),
    }
}

/// A plot axis' range, never empty.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < 1e-9 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}
