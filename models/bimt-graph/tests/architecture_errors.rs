//! An architecture that cannot mean what it says is refused, naming the layer or edge and
//! what was expected.
use bimt_graph::{Architecture, Graph};

fn build(text: &str) -> Result<Graph, String> {
    let arch: Architecture = serde_json::from_str(text).unwrap();
    Graph::new(&arch).map_err(|e| e.to_string())
}

/// `x` (input, 2) -> `h` (3, with `h_fields`) -> `y` (output, 1), plus `extra` edges.
fn chain(x_fields: &str, h_fields: &str, extra: &str) -> String {
    format!(
        r#"{{"layers": [{{"name": "x", "size": 2, "role": "input"{x_fields}}},
                       {{"name": "h", "size": 3{h_fields}}},
                       {{"name": "y", "size": 1, "role": "output"}}],
            "edges": [{{"from": "x", "to": "h"}}, {{"from": "h", "to": "y"}}{extra}]}}"#
    )
}

#[test]
fn the_plain_chain_builds() {
    build(&chain("", "", "")).unwrap();
    build(&chain("", r#", "depth": 0.5"#, "")).unwrap();
    build(&chain(r#", "depth": 2"#, r#", "depth": 3"#, "")).unwrap();
}

#[test]
fn a_duplicate_edge_is_refused() {
    let e = build(&chain("", "", r#", {"from": "x", "to": "h"}"#)).unwrap_err();
    assert!(
        e.contains("edges 1 and 3") && e.contains("x -> h") && e.contains("parallel"),
        "{e}"
    );
    // Also with the kind spelled out and the bias switched off: still one weight matrix twice.
    let e = build(&chain(
        "",
        "",
        r#", {"from": "h", "to": "y", "kind": "linear", "bias": false}"#,
    ))
    .unwrap_err();
    assert!(e.contains("edges 2 and 3") && e.contains("h -> y"), "{e}");
    // Two identity edges add the source twice.
    let sized = r#"{"layers": [{"name": "x", "size": 2, "role": "input"},
                   {"name": "h", "size": 2}, {"name": "y", "size": 1, "role": "output"}],
        "edges": [{"from": "x", "to": "h"}, {"from": "x", "to": "h", "kind": "identity"},
                  {"from": "x", "to": "h", "kind": "identity"}, {"from": "h", "to": "y"}]}"#;
    let e = build(sized).unwrap_err();
    assert!(e.contains("edges 2 and 3") && e.contains("identity"), "{e}");
    // A linear edge beside an identity skip between the same layers is a residual: fine.
    let residual = sized.replacen(r#"{"from": "x", "to": "h", "kind": "identity"},"#, "", 1);
    assert_ne!(residual, sized);
    build(&residual).unwrap();
}

#[test]
fn a_depth_at_or_below_a_feeding_layer_is_refused() {
    for depth in ["0", "-1", "-0.5"] {
        let e = build(&chain("", &format!(r#", "depth": {depth}"#), "")).unwrap_err();
        assert!(
            e.contains("layer 'h'")
                && e.contains(&format!("depth {depth}"))
                && e.contains("above 0"),
            "{depth}: {e}"
        );
    }
    let e = build(&chain(r#", "depth": -1"#, "", "")).unwrap_err();
    assert!(e.contains("layer 'x'") && e.contains("0 or more"), "{e}");
    // Above 0, but not above the layer feeding it.
    let e = build(&chain(r#", "depth": 2"#, r#", "depth": 1"#, "")).unwrap_err();
    assert!(
        e.contains("edge 1 (x -> h)") && e.contains("depth 1") && e.contains("depth 2"),
        "{e}"
    );
}

#[test]
fn an_empty_layer_name_is_refused() {
    for name in ["", "  "] {
        let text = chain("", "", "").replace(r#""name": "h""#, &format!(r#""name": "{name}""#));
        let text = text.replace(r#""to": "h""#, &format!(r#""to": "{name}""#));
        let text = text.replace(r#""from": "h""#, &format!(r#""from": "{name}""#));
        let e = build(&text).unwrap_err();
        assert!(
            e.contains("layer 2") && e.contains("empty name"),
            "{name:?}: {e}"
        );
    }
}
