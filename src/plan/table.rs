//! The plan as a table for people: each control, its value, and where it came from.

use super::Plan;

pub fn render(plan: &Plan) -> String {
    use crate::sanitize::escape;
    // Values and sources can quote the image, a profile file or its path: escaped.
    let rows: Vec<(String, String, String)> =
        plan.decisions.iter().map(|d| (escape(&d.control), escape(&d.value), escape(&d.source.to_string()))).collect();
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max("CONTROL".len());
    let w1 = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0).clamp("VALUE".len(), 48);
    let mut out = format!("{:w0$}  {:w1$}  SOURCE\n", "CONTROL", "VALUE");
    for (c, v, s) in rows {
        out += &format!("{c:w0$}  {v:w1$}  {s}\n");
    }
    for n in &plan.notices {
        out += &format!("note: {}\n", escape(n));
    }
    out
}
