//! Every inconsistency in a layout is a clear error naming the culprit.
use bimt_layout::{Axis, Connection, Domain, LayoutBuilder, ParamSpec, Placement};

fn message(result: Result<bimt_layout::Layout, bimt_layout::LayoutError>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn size_mismatch_names_the_connection() {
    let mut b = LayoutBuilder::new();
    let a = b.layer("a", 3, Placement::Line, 0.0);
    let c = b.layer("c", 2, Placement::Line, 1.0);
    let w = b.param(ParamSpec {
        name: "w".into(),
        shape: [4, 2],
        init_bound: 0.1,
        init_normal: None,
        penalised_like_bias: false,
    });
    b.connect(
        a,
        c,
        Connection {
            weight: w,
            bias: None,
            in_fold: 1,
            out_fold: 1,
        },
    );
    let m = message(b.build());
    assert!(
        m.contains("a -> c") && m.contains("[4, 2]") && m.contains("[3, 2]"),
        "{m}"
    );
}

#[test]
fn fold_that_does_not_fit() {
    let mut b = LayoutBuilder::new();
    let a = b.layer("a", 3, Placement::Line, 0.0);
    let c = b.layer("c", 2, Placement::Line, 1.0);
    let w = b.param(ParamSpec {
        name: "w".into(),
        shape: [7, 2],
        init_bound: 0.1,
        init_normal: None,
        penalised_like_bias: false,
    });
    b.connect(
        a,
        c,
        Connection {
            weight: w,
            bias: None,
            in_fold: 2,
            out_fold: 1,
        },
    );
    let m = message(b.build());
    assert!(m.contains("in_fold 2"), "{m}");
}

#[test]
fn a_layer_in_two_domains() {
    let mut b = LayoutBuilder::new();
    let a = b.layer("a", 3, Placement::Line, 0.0);
    let c = b.layer("c", 3, Placement::Line, 1.0);
    b.linear(a, c, true);
    for name in ["first", "second"] {
        b.domain(Domain {
            name: name.into(),
            layers: vec![a],
            block: None,
            fixed: false,
            extra_axes: vec![],
        });
    }
    let m = message(b.build());
    assert!(
        m.contains("'a' is in two domains") && m.contains("first") && m.contains("second"),
        "{m}"
    );
}

#[test]
fn coupled_layers_of_different_sizes() {
    let mut b = LayoutBuilder::new();
    let a = b.layer("a", 3, Placement::Line, 0.0);
    let c = b.layer("c", 4, Placement::Line, 1.0);
    b.linear(a, c, true);
    b.domain(Domain {
        name: "stream".into(),
        layers: vec![a, c],
        block: None,
        fixed: false,
        extra_axes: vec![],
    });
    let m = message(b.build());
    assert!(m.contains("stream") && m.contains("3 and 4"), "{m}");
}

#[test]
fn block_that_does_not_divide() {
    let mut b = LayoutBuilder::new();
    let a = b.layer("a", 6, Placement::Line, 0.0);
    let c = b.layer("c", 2, Placement::Line, 1.0);
    b.linear(a, c, true);
    b.domain(Domain {
        name: "heads".into(),
        layers: vec![a],
        block: Some(4),
        fixed: false,
        extra_axes: vec![],
    });
    let m = message(b.build());
    assert!(m.contains("heads") && m.contains("block size 4"), "{m}");
}

#[test]
fn axis_that_does_not_exist() {
    let mut b = LayoutBuilder::new();
    let a = b.layer("a", 3, Placement::Line, 0.0);
    let c = b.layer("c", 2, Placement::Line, 1.0);
    b.linear(a, c, true);
    let e = b.param(ParamSpec {
        name: "embedding".into(),
        shape: [5, 3],
        init_bound: 0.1,
        init_normal: None,
        penalised_like_bias: true,
    });
    b.domain(Domain {
        name: "tokens".into(),
        layers: vec![a],
        block: None,
        fixed: false,
        extra_axes: vec![Axis {
            param: e,
            axis: 2,
            fold: 1,
        }],
    });
    let m = message(b.build());
    assert!(m.contains("no axis 2") && m.contains("embedding"), "{m}");
    let mut b = LayoutBuilder::new();
    let a = b.layer("a", 3, Placement::Line, 0.0);
    let e = b.param(ParamSpec {
        name: "embedding".into(),
        shape: [5, 4],
        init_bound: 0.1,
        init_normal: None,
        penalised_like_bias: true,
    });
    b.domain(Domain {
        name: "tokens".into(),
        layers: vec![a],
        block: None,
        fixed: false,
        extra_axes: vec![Axis {
            param: e,
            axis: 1,
            fold: 1,
        }],
    });
    let m = message(b.build());
    assert!(m.contains("length 4") && m.contains("3 neurons"), "{m}");
}

#[test]
fn grid_that_does_not_hold_the_layer() {
    let mut b = LayoutBuilder::new();
    b.layer("pixels", 100, Placement::Grid { rows: 28, cols: 28 }, 0.0);
    let m = message(b.build());
    assert!(m.contains("pixels") && m.contains("28x28"), "{m}");
}
