//! The declared layout: layer names and depths, connections and folds, coupling groups,
//! activations for `model.json`, and output shapes.

use crate::common::{config, model, tokens};
use bimt_engine::Network;

#[test]
fn layers_are_named_and_stacked_like_the_paper() {
    let model = model(config(8, 2, 2), 0);
    let layout = model.network.layout();
    let names = [
        "input", "res0", "atn1", "res1", "mlp1", "res2", "atn2", "res3", "mlp2", "res4", "output",
    ];
    let sizes = [2, 8, 8, 8, 16, 8, 8, 8, 16, 8, 3];
    for (depth, (name, size)) in names.iter().zip(sizes).enumerate() {
        let layer = layout.layer(
            layout
                .layer_named(name)
                .unwrap_or_else(|| panic!("no layer {name}")),
        );
        assert_eq!(
            (layer.size, layer.depth),
            (size, depth as f64),
            "layer {name}"
        );
    }
    let edges: Vec<(String, String, usize, String)> = layout
        .connections()
        .map(|(id, from, to, c)| {
            let activation = model
                .network
                .connection_activation(id)
                .expect("every connection is labelled");
            (
                layout.layer(from).name.clone(),
                layout.layer(to).name.clone(),
                c.out_fold,
                activation,
            )
        })
        .collect();
    let expected = [
        ("input", "res0", 1, "identity"),
        ("res0", "atn1", 3, "attention"),
        ("atn1", "res1", 1, "identity"),
        ("res1", "mlp1", 1, "gelu"),
        ("mlp1", "res2", 1, "identity"),
        ("res2", "atn2", 3, "attention"),
        ("atn2", "res3", 1, "identity"),
        ("res3", "mlp2", 1, "gelu"),
        ("mlp2", "res4", 1, "identity"),
        ("res4", "output", 1, "identity"),
    ];
    let expected: Vec<(String, String, usize, String)> = expected
        .iter()
        .map(|&(a, b, f, act)| (a.into(), b.into(), f, act.into()))
        .collect();
    assert_eq!(edges, expected);
    assert_eq!(model.network.activation(), "gelu");
    assert!(
        layout
            .connections()
            .all(|(_, _, _, c)| c.bias.is_some() && c.in_fold == 1)
    );
}

#[test]
fn coupling_groups_follow_appendix_f() {
    let model = model(config(8, 2, 2), 0);
    let t = &model.network;
    let layout = t.layout();
    let residual = &layout.domains()[0];
    assert_eq!(residual.name, "residual");
    assert_eq!(residual.layers, t.residual_layers());
    let names: Vec<&str> = residual
        .layers
        .iter()
        .map(|&l| layout.layer(l).name.as_str())
        .collect();
    assert_eq!(names, ["res0", "res1", "res2", "res3", "res4"]);
    for name in ["atn1", "atn2"] {
        let domain = layout
            .domains()
            .iter()
            .find(|d| d.name == name)
            .expect("attention domain");
        assert_eq!(domain.block, Some(4), "{name}: one block per head");
        assert!(!domain.fixed);
    }
    for name in ["input", "mlp1", "mlp2", "output"] {
        let layer = layout.layer_named(name).expect("layer");
        let domain = &layout.domains()[layout.domain_of(layer)];
        assert_eq!(
            (domain.layers.as_slice(), domain.block, domain.fixed),
            ([layer].as_slice(), None, false),
            "{name}"
        );
    }
    assert_eq!(layout.inputs(), [layout.layer_named("input").unwrap()]);
    assert_eq!(layout.outputs(), [layout.layer_named("output").unwrap()]);
}

#[test]
fn forward_keeps_rows_and_returns_out_dim_columns() {
    let config = config(8, 2, 4);
    let model = model(config, 1);
    let x = tokens(&config, 5, 0);
    assert_eq!(model.predict(x.clone(), true).dims(), [15, 3]);
    let residuals = model.network.forward_residuals(&model.params.detached(), x);
    assert_eq!(residuals.len(), 5);
    assert!(residuals.iter().all(|r| r.dims() == [15, 8]));
}

#[test]
fn attention_is_causal() {
    // Changing the last token of every sequence leaves the first two positions' outputs alone.
    let config = config(8, 2, 2);
    let model = model(config, 2);
    let x = tokens(&config, 3, 5);
    let mut values = crate::common::host(x.clone());
    for row in values
        .chunks_exact_mut(2 * config.seq_len)
        .map(|c| &mut c[2 * (config.seq_len - 1)..])
    {
        row.iter_mut().for_each(|v| *v += 1.0);
    }
    let y =
        bimt_engine::Tensor::from_data(bimt_engine::TensorData::new(values, [9, 2]), &x.device());
    let (a, b) = (
        crate::common::host(model.predict(x, false)),
        crate::common::host(model.predict(y, false)),
    );
    for (s, (ra, rb)) in a
        .chunks_exact(3 * config.seq_len)
        .zip(b.chunks_exact(3 * config.seq_len))
        .enumerate()
    {
        assert_eq!(
            ra[..6],
            rb[..6],
            "sequence {s}: earlier tokens saw a later one"
        );
        assert_ne!(
            ra[6..],
            rb[6..],
            "sequence {s}: the last token ignored its own input"
        );
    }
}

#[test]
fn the_model_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<bimt_transformer::Transformer>();
}
