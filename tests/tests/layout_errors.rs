//! Every inconsistency in a layout is a clear error naming the culprit.
use bimt_layout::{
    Axis, Connection, Domain, LayerId, LayoutBuilder, ParamId, ParamSpec, Placement,
};

fn message(result: Result<bimt_layout::Layout, bimt_layout::LayoutError>) -> String {
    result.unwrap_err().to_string()
}

/// Layers `a` (at 0) and `c` (at 1) of the given sizes.
fn two_layers(b: &mut LayoutBuilder, a: usize, c: usize) -> (LayerId, LayerId) {
    (
        b.layer("a", a, Placement::Line, 0.0),
        b.layer("c", c, Placement::Line, 1.0),
    )
}

/// A parameter of `shape`; `bias_like` charges it as biases and embeddings are.
fn param(b: &mut LayoutBuilder, name: &str, shape: [usize; 2], bias_like: bool) -> ParamId {
    b.param(ParamSpec {
        name: name.into(),
        shape,
        init_bound: 0.1,
        init_normal: None,
        penalised_like_bias: bias_like,
    })
}

/// `w` from `from` to `to` without a bias, its rows folded `in_fold` times.
fn connect(b: &mut LayoutBuilder, from: LayerId, to: LayerId, w: ParamId, in_fold: usize) {
    b.connect(
        from,
        to,
        Connection {
            weight: w,
            bias: None,
            in_fold,
            out_fold: 1,
        },
    );
}

/// A free domain of `layers`, without blocks or extra axes.
fn domain(name: &str, layers: Vec<LayerId>) -> Domain {
    Domain {
        name: name.into(),
        layers,
        block: None,
        fixed: false,
        extra_axes: vec![],
    }
}

#[test]
fn size_mismatch_names_the_connection() {
    let mut b = LayoutBuilder::new();
    let (a, c) = two_layers(&mut b, 3, 2);
    let w = param(&mut b, "w", [4, 2], false);
    connect(&mut b, a, c, w, 1);
    let m = message(b.build());
    assert!(
        m.contains("a -> c") && m.contains("[4, 2]") && m.contains("[3, 2]"),
        "{m}"
    );
}

#[test]
fn fold_that_does_not_fit() {
    let mut b = LayoutBuilder::new();
    let (a, c) = two_layers(&mut b, 3, 2);
    let w = param(&mut b, "w", [7, 2], false);
    connect(&mut b, a, c, w, 2);
    let m = message(b.build());
    assert!(m.contains("in_fold 2"), "{m}");
}

#[test]
fn a_layer_in_two_domains() {
    let mut b = LayoutBuilder::new();
    let (a, c) = two_layers(&mut b, 3, 3);
    b.linear(a, c, true);
    for name in ["first", "second"] {
        b.domain(domain(name, vec![a]));
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
    let (a, c) = two_layers(&mut b, 3, 4);
    b.linear(a, c, true);
    b.domain(domain("stream", vec![a, c]));
    let m = message(b.build());
    assert!(m.contains("stream") && m.contains("3 and 4"), "{m}");
}

#[test]
fn block_that_does_not_divide() {
    let mut b = LayoutBuilder::new();
    let (a, c) = two_layers(&mut b, 6, 2);
    b.linear(a, c, true);
    b.domain(Domain {
        block: Some(4),
        ..domain("heads", vec![a])
    });
    let m = message(b.build());
    assert!(m.contains("heads") && m.contains("block size 4"), "{m}");
}

#[test]
fn axis_that_does_not_exist() {
    let tokens = |b: &mut LayoutBuilder, a: LayerId, shape: [usize; 2], axis: usize| {
        let e = param(b, "embedding", shape, true);
        b.domain(Domain {
            extra_axes: vec![Axis {
                param: e,
                axis,
                fold: 1,
            }],
            ..domain("tokens", vec![a])
        });
    };
    let mut b = LayoutBuilder::new();
    let (a, c) = two_layers(&mut b, 3, 2);
    b.linear(a, c, true);
    tokens(&mut b, a, [5, 3], 2);
    let m = message(b.build());
    assert!(m.contains("no axis 2") && m.contains("embedding"), "{m}");

    let mut b = LayoutBuilder::new();
    let a = b.layer("a", 3, Placement::Line, 0.0);
    tokens(&mut b, a, [5, 4], 1);
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
