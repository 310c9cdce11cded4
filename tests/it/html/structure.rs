//! What a chart is made of, without its coordinates: each element by its path of classes,
//! counted, and every word it writes, in order — what a snapshot can hold without churning
//! when a bar moves by a unit.

use std::collections::BTreeMap;
use std::fmt::Write;

fn doc(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not well-formed ({e}):\n{svg}"))
}

pub fn id(svg: &str) -> String {
    doc(svg)
        .root_element()
        .attribute("id")
        .expect("a chart has an id")
        .to_string()
}

fn key(n: roxmltree::Node) -> String {
    match n.attribute("class") {
        Some(c) => format!("{}.{}", n.tag_name().name(), c.replace(' ', ".")),
        None => n.tag_name().name().to_string(),
    }
}

/// `id`, the chart's label, element counts by class path, then its words.
pub fn summary(svg: &str) -> String {
    let d = doc(svg);
    let root = d.root_element();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut words = Vec::new();
    let mut label = String::new();
    for n in root.descendants().filter(|n| n.is_element() && *n != root) {
        let tag = n.tag_name().name();
        if tag == "style" || n.ancestors().any(|a| a.tag_name().name() == "style") {
            continue;
        }
        if tag == "title" && n.parent() == Some(root) {
            label = n.text().unwrap_or_default().to_string();
            continue;
        }
        let path: Vec<String> = n
            .ancestors()
            .filter(|a| a.is_element() && *a != root)
            .map(key)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        *counts.entry(path.join(" > ")).or_default() += 1;
        if tag == "text" {
            words.push(n.text().unwrap_or_default().to_string());
        }
    }
    let mut o = format!("id: {}\nlabel: {label}\n\nelements:\n", id(svg));
    for (k, n) in counts {
        let _ = writeln!(o, "  {n:>4}  {k}");
    }
    o.push_str("\nwords:\n");
    for w in words {
        let _ = writeln!(o, "  {w}");
    }
    o
}
