//! The coupling rules are real: breaking them changes the function, and layouts that
//! break them are rejected with errors that name the culprit.

use crate::common::{config, host, max_relative, model, tokens};
use bimt_engine::{Network, ParamStore, default_device};
use bimt_layout::{Domain, LayoutBuilder, Placement};
use bimt_transformer::Transformer;

#[test]
fn moving_one_neuron_to_another_head_changes_the_outputs() {
    let config = config(8, 2, 2);
    let mut model = model(config, 11);
    let x = tokens(&config, 4, 3);
    let before = host(model.predict(x.clone(), false));
    let atn1 = model
        .network
        .layout()
        .domains()
        .iter()
        .position(|d| d.name == "atn1")
        .expect("atn1 domain");
    // Neurons 3 (last of head 0) and 4 (first of head 1) trade places: not a whole-head move.
    let mut perm: Vec<usize> = (0..config.width).collect();
    perm.swap(3, 4);
    model.permute(atn1, &perm).unwrap();
    let err = max_relative(&before, &host(model.predict(x, false)));
    assert!(
        err > 1e-3,
        "a cross-head swap left the outputs unchanged ({err})"
    );
}

#[test]
fn permuting_queries_without_keys_changes_the_outputs() {
    let config = config(8, 1, 1);
    let model = model(config, 5);
    let x = tokens(&config, 4, 4);
    let before = host(model.predict(x.clone(), false));
    let layout = model.network.layout();
    let (_, _, _, qkv) = layout
        .connections()
        .find(|(_, _, to, _)| layout.layer(*to).name == "atn1")
        .expect("QKV");
    let mut params = model.params.to_host();
    // Reverse the order of the Q columns (the first `width` of the packed projection) only.
    let cols = 3 * config.width;
    for row in params[qkv.weight].chunks_exact_mut(cols) {
        row[..config.width].reverse();
    }
    params[qkv.bias.expect("bias")][..config.width].reverse();
    let broken = ParamStore::from_host(layout, &params, &default_device());
    let after = host(model.network.forward(&broken.detached(), x));
    let err = max_relative(&before, &after);
    assert!(
        err > 1e-3,
        "permuting Q but not K left the outputs unchanged ({err})"
    );
}

#[test]
fn heads_that_do_not_divide_the_width_are_rejected() {
    let err = Transformer::new(config(10, 1, 4)).expect_err("4 heads cannot split 10 neurons");
    assert!(
        err.0.contains("(4)") && err.0.contains("(10)"),
        "unclear message: {err}"
    );
    let err = Transformer::new(config(8, 1, 0)).expect_err("zero heads");
    assert!(err.0.contains("heads (0)"), "unclear message: {err}");
}

#[test]
fn a_residual_domain_over_layers_of_different_sizes_is_rejected() {
    let mut b = LayoutBuilder::new();
    let res0 = b.layer("res0", 8, Placement::Line, 0.0);
    let res1 = b.layer("res1", 6, Placement::Line, 1.0);
    b.linear(res0, res1, true);
    b.domain(Domain {
        name: "residual".into(),
        layers: vec![res0, res1],
        block: None,
        fixed: false,
        extra_axes: Vec::new(),
    });
    let err = b
        .build()
        .expect_err("sizes 8 and 6 cannot share a permutation");
    assert!(
        err.0.contains("'residual'") && err.0.contains("'res1'"),
        "unclear message: {err}"
    );
}

#[test]
fn a_head_size_that_does_not_divide_the_domain_is_rejected() {
    let mut b = LayoutBuilder::new();
    let res0 = b.layer("res0", 8, Placement::Line, 0.0);
    let atn1 = b.layer("atn1", 8, Placement::Line, 1.0);
    b.folded_linear(res0, atn1, 1, 3, true);
    b.domain(Domain {
        name: "atn1".into(),
        layers: vec![atn1],
        block: Some(3),
        fixed: false,
        extra_axes: Vec::new(),
    });
    let err = b.build().expect_err("blocks of 3 cannot tile 8 neurons");
    assert!(
        err.0.contains("'atn1'") && err.0.contains("block size 3"),
        "unclear message: {err}"
    );
}
