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
    if !plan.writable.is_empty() {
        out += &writable(plan);
    }
    for w in &plan.warnings {
        out += &format!("warning: {w}\n");
    }
    for n in &plan.notices {
        out += &format!("note: {}\n", escape(n));
    }
    out
}

/// The "writable paths" section: each place the container may write, who owns it, and
/// whether the user it runs as can write it.
fn writable(plan: &Plan) -> String {
    let user = plan.run_as.as_deref().or(plan.create.user.as_deref()).unwrap_or("?");
    let rows: Vec<[String; 5]> = plan
        .writable
        .iter()
        .map(|w| {
            let can = match w.writable {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "?",
            };
            let what = match &w.source {
                Some(s) => format!("{} {s}", w.kind),
                None => w.kind.clone(),
            };
            [w.path.clone(), what, w.owner.clone().unwrap_or_else(|| "?".into()), can.into(), w.note.clone()]
        })
        .collect();
    let heads = ["PATH", "MOUNT", "OWNER", "WRITABLE", "NOTE"];
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0).max(heads[i].len());
    let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
    let mut out = format!("\nwritable paths (the container runs as {user}):\n");
    out += &format!("{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}\n", heads[0], heads[1], heads[2], heads[3], heads[4]);
    for r in rows {
        out += &format!("{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}\n", r[0], r[1], r[2], r[3], r[4]);
    }
    out
}
