//! Token layers and embedding edges: a declaration that cannot mean what it says is refused
//! with one line naming the file, the layer or edge, and what was expected and found.
use bimt_graph::{Architecture, Graph};
use bimt_layout::Direction;

/// `tokens` (`token_fields`) -> `e` (3, `e_fields`) -> `h` (4) -> `y` (output, 5), plus
/// `extra_layers` and `extra_edges`.
fn arch(token_fields: &str, e_fields: &str, extra_layers: &str, extra_edges: &str) -> String {
    format!(
        r#"{{"layers": [{{"name": "tokens", "role": "input", "tokens": 5{token_fields}}},
                       {{"name": "e", "size": 3{e_fields}}},
                       {{"name": "h", "size": 4}},
                       {{"name": "y", "size": 5, "role": "output"}}{extra_layers}],
            "edges": [{{"from": "tokens", "to": "e", "kind": "embedding"}},
                      {{"from": "e", "to": "h"}}, {{"from": "h", "to": "y"}}{extra_edges}]}}"#
    )
}

/// The error of building `text` as an architecture: parsing or building, one line.
fn refused(text: &str) -> String {
    let message = match serde_json::from_str::<Architecture>(text) {
        Err(e) => e.to_string(),
        Ok(arch) => match Graph::new(&arch) {
            Ok(_) => panic!("built, but should be refused:\n{text}"),
            Err(e) => e.to_string(),
        },
    };
    assert!(!message.contains('\n'), "one line: {message}");
    message
}

fn builds(text: &str) -> Graph {
    let arch: Architecture = serde_json::from_str(text).unwrap();
    Graph::new(&arch).unwrap()
}

fn assert_says(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "'{part}' missing from: {message}");
    }
}

#[test]
fn the_plain_token_chain_builds_with_its_positions_folded() {
    let graph = builds(&arch(r#", "positions": 2"#, "", "", ""));
    let layout = bimt_engine::Network::layout(&graph);
    let e = layout.layer_named("e").unwrap();
    assert_eq!(layout.inputs(), &[e]);
    assert_eq!(
        layout.layer(e).depth,
        0.0,
        "the data enters at the embedded layer"
    );
    assert!(
        layout.layer_named("tokens").is_none(),
        "a token layer has no neurons"
    );
    let (_, c) = layout
        .connections_at(e, Direction::Outgoing)
        .next()
        .unwrap();
    assert_eq!(c.in_fold, 2);
    let table = graph.token_embedding().unwrap();
    assert_eq!(layout.params()[table].shape, [5, 3]);
    let domain = layout.domain_of(e);
    assert_eq!(layout.domains()[domain].name, "e");
    assert!(
        layout
            .domain_axes(domain)
            .iter()
            .any(|a| a.param == table && a.axis == 1)
    );
    // One position by default; the file round-trips.
    let one = builds(&arch("", "", "", ""));
    let text = serde_json::to_string(one.architecture()).unwrap();
    assert!(text.contains(r#""tokens":5,"positions":1"#), "{text}");
    assert_eq!(builds(&text).architecture(), one.architecture());
}

#[test]
fn an_embedding_from_a_layer_of_numbers_is_refused() {
    let text = r#"{"layers": [{"name": "x", "size": 2, "role": "input"},
                   {"name": "e", "size": 3}, {"name": "y", "size": 1, "role": "output"}],
        "edges": [{"from": "x", "to": "e", "kind": "embedding"}, {"from": "e", "to": "y"}]}"#;
    assert_says(
        &refused(text),
        &[
            "edge 1 (x -> e)",
            "expected a token layer",
            "found 'x', an input layer of 2 neurons",
        ],
    );
    let hidden = arch(
        "",
        "",
        "",
        r#", {"from": "h", "to": "y", "kind": "embedding"}"#,
    );
    assert_says(
        &refused(&hidden),
        &["edge 4 (h -> y)", "found 'h', a hidden layer of 4 neurons"],
    );
}

#[test]
fn token_declarations_that_do_not_fit_are_refused() {
    let cases: [(String, &[&str]); 8] = [
        (
            arch("", "", "", "").replace(r#""tokens": 5"#, r#""tokens": 0"#),
            &[
                "layer 'tokens'",
                "\"tokens\": 0",
                "expected a vocabulary of at least 1",
            ],
        ),
        (
            arch(r#", "positions": 0"#, "", "", ""),
            &["layer 'tokens'", "\"positions\": 0", "expected 1 or more"],
        ),
        (
            arch(r#", "size": 2"#, "", "", ""),
            &["layer 'tokens'", "no \"size\" (found 2)", "\"positions\""],
        ),
        (
            arch(r#", "depth": 1"#, "", "", ""),
            &["layer 'tokens'", "takes no \"depth\""],
        ),
        (
            arch(r#", "activation": "silu""#, "", "", ""),
            &["layer 'tokens'", "takes no \"activation\""],
        ),
        (
            arch("", r#", "tokens": 4"#, "", ""),
            &[
                "layer 'e'",
                "expected \"role\": \"input\", found \"hidden\"",
            ],
        ),
        (
            arch("", r#", "positions": 2"#, "", ""),
            &["layer 'e'", "\"positions\"", "expected \"tokens\": V"],
        ),
        (
            arch("", "", "", "").replace(r#""size": 3"#, r#""role": "hidden""#),
            &[
                "layer 'e' has no \"size\"",
                "expected its number of neurons",
            ],
        ),
    ];
    for (text, parts) in cases {
        assert_says(&refused(&text), parts);
    }
}

#[test]
fn edges_a_token_layer_cannot_take_are_refused() {
    let cases: [(String, &[&str]); 7] = [
        // Fed by an edge.
        (
            arch("", "", "", r#", {"from": "h", "to": "tokens"}"#),
            &[
                "edge 4 (h -> tokens)",
                "'tokens' is an input layer",
                "takes no edges",
            ],
        ),
        // Read by a linear edge.
        (
            arch("", "", "", r#", {"from": "tokens", "to": "h"}"#),
            &[
                "edge 4 (tokens -> h)",
                "only an embedding edge",
                "found a linear edge",
            ],
        ),
        // Two token layers.
        (
            arch(
                "",
                "",
                r#", {"name": "u", "role": "input", "tokens": 3}"#,
                "",
            ),
            &["'tokens' and 'u' both hold token ids", "one token layer"],
        ),
        // Two tables.
        (
            arch(
                "",
                "",
                "",
                r#", {"from": "tokens", "to": "h", "kind": "embedding"}"#,
            ),
            &[
                "'tokens' feeds 2 embedding edges (edges 1 and 4)",
                "expected one",
            ],
        ),
        // Beside numbers.
        (
            arch(
                "",
                "",
                r#", {"name": "x", "size": 2, "role": "input"}"#,
                r#", {"from": "x", "to": "h"}"#,
            ),
            &["layer 'x' is an input of numbers beside the token layer 'tokens'"],
        ),
        // With a bias.
        (
            arch("", "", "", "").replace(
                r#""kind": "embedding""#,
                r#""kind": "embedding", "bias": true"#,
            ),
            &["edge 1 (tokens -> e)", "an embedding edge has no bias"],
        ),
        // In a group.
        (
            arch("", "", "", "").replace(
                "]}",
                r#"], "groups": [{"name": "g", "layers": ["tokens", "e"]}]}"#,
            ),
            &[
                "group 'g'",
                "'tokens' is a token layer",
                "expected layers of neurons",
            ],
        ),
    ];
    for (text, parts) in cases {
        assert_says(&refused(&text), parts);
    }
    // A token layer that feeds no edge at all.
    let alone = r#"{"layers": [{"name": "t", "role": "input", "tokens": 4},
                   {"name": "x", "size": 2, "role": "hidden"},
                   {"name": "y", "size": 1, "role": "output"}],
        "edges": [{"from": "x", "to": "y"}]}"#;
    assert_says(
        &refused(alone),
        &[
            "token layer 't' feeds no edge",
            "expected one embedding edge",
        ],
    );
}

#[test]
fn the_embedded_layer_is_refused_where_it_cannot_hold_the_rows() {
    // Fed by the embedding and by another edge: a second source for the same neurons.
    let fed = arch(
        "",
        "",
        r#", {"name": "z", "size": 3}"#,
        r#", {"from": "z", "to": "e"}"#,
    );
    assert_says(
        &refused(&fed),
        &["layer 'e' is fed by the embedding edge 1 (tokens -> e) and by edge 4 (z -> e)"],
    );
    assert_says(
        &refused(&arch("", r#", "activation": "silu""#, "", "")),
        &["layer 'e'", "take no activation", "found \"silu\""],
    );
    assert_says(
        &refused(&arch("", r#", "depth": -1"#, "", "")),
        &["layer 'e'", "depth -1", "expected 0 or more"],
    );
    // Into an output layer.
    let output = r#"{"layers": [{"name": "t", "role": "input", "tokens": 4},
                   {"name": "y", "size": 3, "role": "output"}],
        "edges": [{"from": "t", "to": "y", "kind": "embedding"}]}"#;
    assert_says(
        &refused(output),
        &[
            "edge 1 (t -> y)",
            "feeds a hidden layer",
            "found 'y', an output layer",
        ],
    );
    // Two positions of 3 values, passed on by an identity edge to 3 neurons.
    let identity = arch(
        r#", "positions": 2"#,
        "",
        r#", {"name": "r", "size": 3, "activation": "identity"}"#,
        r#", {"from": "e", "to": "r", "kind": "identity"}, {"from": "r", "to": "y"}"#,
    );
    assert_says(
        &refused(&identity),
        &[
            "edge 4 (e -> r)",
            "'e' holds 2 token positions of 3 values each",
            "identity edge cannot pass to the 3 neurons of 'r'",
            "expected a linear edge",
        ],
    );
    // With one position it can: a residual stream that starts at the embedding.
    let one = identity.replace(r#", "positions": 2"#, "");
    builds(&one);
}

#[test]
fn a_bad_file_is_refused_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("bimt-token-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        // Refused while reading the file (the layer's fields) and while building it.
        (
            "fields.json",
            arch("", r#", "tokens": 4"#, "", ""),
            "layer 'e'",
        ),
        (
            "graph.json",
            arch("", "", "", r#", {"from": "tokens", "to": "h"}"#),
            "edge 4 (tokens -> h)",
        ),
    ];
    for (name, text, part) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let e = Graph::from_file(&path).unwrap_err().to_string();
        assert_says(&e, &[&path.display().to_string(), part]);
        assert!(!e.contains('\n'), "{e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
