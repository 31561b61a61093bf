//! The report as one self-contained page (`report/index.html`): the tables,
//! every figure inline as SVG, the run's manifest and links to the files,
//! with nothing fetched from the network, so it opens from a laptop, a
//! cluster's login node or an archive alike.

use pulldown_cmark::{html, Event, Options, Parser};

/// What the page shows. Links are (label, href relative to the page).
pub struct Page<'a> {
    pub title: &'a str,
    /// The tables, as `edgebench report` writes them to `tables.md`.
    pub tables_md: &'a str,
    /// (file stem, SVG text) in drawing order.
    pub figures: &'a [(String, String)],
    /// `manifest.json` of the run, when the results have one.
    pub manifest: Option<&'a serde_json::Value>,
    pub links: &'a [(String, String)],
}

/// Text for HTML: `&`, `<`, `>` and quotes escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Markdown to HTML; HTML in the Markdown (a scenario's name is the user's)
/// is shown as text, never passed through.
fn markdown(md: &str) -> String {
    let parser = Parser::new_ext(md, Options::ENABLE_TABLES).map(|ev| match ev {
        Event::Html(s) | Event::InlineHtml(s) => Event::Text(s),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out
}

/// The fields of a manifest worth a glance, in this order; the whole JSON follows.
const MANIFEST_FIELDS: &[&str] = &[
    "scenario",
    "seeds",
    "policies",
    "slots",
    "terminals",
    "edgebench_version",
    "git_revision",
    "config_hash_sha256",
    "started_at",
    "finished_at",
];

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1320px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{font-size:1.3em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
th:first-child,td:first-child{text-align:left}thead{background:#f3f3f3}\
figure{margin:1.5em 0}figure svg{max-width:100%;height:auto}figcaption{color:#555;font-size:.9em}\
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:.8em}nav a{margin-right:1em}code{font-size:.95em}";

/// The page.
pub fn render(page: &Page<'_>) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str(&format!("<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n", escape(page.title)));
    h.push_str(&format!("<h1>{}</h1>\n<nav>", escape(page.title)));
    for (id, label) in [("tables", "Tables"), ("figures", "Figures"), ("run", "The run"), ("files", "Files")] {
        h.push_str(&format!("<a href=\"#{id}\">{label}</a>"));
    }
    h.push_str("</nav>\n<section id=\"tables\">\n");
    h.push_str(&markdown(page.tables_md));
    h.push_str("</section>\n<section id=\"figures\">\n<h2>Figures</h2>\n");
    if page.figures.is_empty() {
        h.push_str("<p>No figures (they need the summary's metrics; the task figures need tasks.parquet).</p>\n");
    }
    for (stem, svg) in page.figures {
        h.push_str(&format!("<figure id=\"fig-{0}\">\n{svg}\n<figcaption>{0}</figcaption>\n</figure>\n", escape(stem)));
    }
    h.push_str("</section>\n<section id=\"run\">\n<h2>The run</h2>\n");
    match page.manifest {
        None => h.push_str("<p>The results have no manifest.json.</p>\n"),
        Some(m) => {
            h.push_str("<table>\n");
            for field in MANIFEST_FIELDS {
                if let Some(v) = m.get(field) {
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    h.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>\n", escape(field), escape(&text)));
                }
            }
            h.push_str("</table>\n<details><summary>manifest.json</summary>\n<pre>");
            h.push_str(&escape(&serde_json::to_string_pretty(m).unwrap_or_default()));
            h.push_str("</pre></details>\n");
        }
    }
    h.push_str("</section>\n<section id=\"files\">\n<h2>Files</h2>\n<ul>\n");
    for (label, href) in page.links {
        h.push_str(&format!("<li><a href=\"{}\">{}</a></li>\n", escape(href), escape(label)));
    }
    h.push_str("</ul>\n</section>\n</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_in_the_input_is_shown_as_text() {
        let figures = vec![("a".to_string(), "<svg></svg>".to_string())];
        let manifest = serde_json::json!({"scenario": "<script>x</script>", "seeds": [1, 2]});
        let page = Page {
            title: "r & d",
            tables_md: "## Scenario `<b>`\n\n| policy | cost |\n|---|--:|\n| <i>greedy</i> | 1.0 |\n",
            figures: &figures,
            manifest: Some(&manifest),
            links: &[("summary.csv".into(), "../summary.csv".into())],
        };
        let h = render(&page);
        assert!(h.starts_with("<!DOCTYPE html>") && h.ends_with("</html>\n"));
        assert!(h.contains("<title>r &amp; d</title>"));
        assert!(!h.contains("<script>") && !h.contains("<i>") && !h.contains("<b>"), "{h}");
        assert!(h.contains("&lt;script&gt;") && h.contains("&lt;i&gt;greedy&lt;/i&gt;"), "{h}");
        assert_eq!(h.matches("<table>").count(), 2, "the Markdown table and the manifest's");
        assert!(h.contains("<figure id=\"fig-a\">\n<svg></svg>"));
        assert!(h.contains("<a href=\"../summary.csv\">summary.csv</a>"));
        assert!(h.contains("<tr><th>seeds</th><td>[1,2]</td></tr>"));
    }
}
