//! The residual MLP's coupling group is what keeps swaps harmless.
use bimt_engine::{Model, Network, Tensor, TensorData, default_device};
use bimt_layout::{CostConfig, Distances};
use bimt_manifold::PaperMetric;
use bimt_swap::{SwapConfig, SwapMode, Swapper};
use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use register_architecture::{ResidualMlp, ResidualMlpConfig};

const CONFIG: ResidualMlpConfig = ResidualMlpConfig {
    inputs: 4,
    width: 8,
    hidden: 6,
    blocks: 2,
    outputs: 3,
};

/// The residual MLP of [`CONFIG`], initialised from `seed`, for training.
fn model(seed: u64) -> Model<ResidualMlp> {
    Model::new(
        ResidualMlp::new(CONFIG).unwrap(),
        seed,
        &default_device().autodiff(),
    )
    .unwrap()
}

fn outputs(model: &Model<ResidualMlp>, x: &Tensor<2>) -> Vec<f32> {
    model
        .predict(x.clone(), false)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()
}

fn input(rng: &mut ChaCha8Rng) -> Tensor<2> {
    let v: Vec<f32> = (0..40).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_data(TensorData::new(v, [10, 4]), &default_device())
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn random_permutations_of_every_group_keep_the_function() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut model = model(1);
    let x = input(&mut rng);
    let before = outputs(&model, &x);
    for domain in 0..model.network.layout().domains().len() {
        let mut perm: Vec<usize> = (0..model.network.layout().domain_size(domain)).collect();
        perm.shuffle(&mut rng);
        model.permute(domain, &perm).unwrap();
    }
    assert!(max_diff(&before, &outputs(&model, &x)) < 1e-5);
}

#[test]
fn permuting_one_stream_layer_alone_breaks_the_function() {
    // What the coupling group prevents: move only the rows and columns of s1.
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut model = model(2);
    let x = input(&mut rng);
    let before = outputs(&model, &x);
    let layout = model.network.layout().clone();
    let s1 = layout.layer_named("s1").unwrap();
    let perm = vec![1, 0, 2, 3, 4, 5, 6, 7];
    let mut permute = |param, axis| {
        let fold = 1;
        model
            .params
            .permute(&bimt_layout::Axis { param, axis, fold }, &perm);
    };
    for (_, c) in layout.connections_at(s1, bimt_layout::Direction::Incoming) {
        permute(c.weight, 1);
        permute(c.bias.unwrap(), 1);
    }
    for (_, c) in layout.connections_at(s1, bimt_layout::Direction::Outgoing) {
        permute(c.weight, 0);
    }
    assert!(max_diff(&before, &outputs(&model, &x)) > 1e-4);
}

#[test]
fn swap_rounds_keep_the_function_and_lower_the_cost() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut model = model(3);
    let x = input(&mut rng);
    let before = outputs(&model, &x);
    let layout = model.network.layout().clone();
    let distances = Distances::new(&layout, &PaperMetric::l1(2.0, 0.1), &CostConfig::default());
    let mut host = model.params.to_host();
    let cost = distances.cost(&layout, &host);
    let round = Swapper::new(&layout, &distances).round(
        &mut host,
        &SwapConfig {
            top_k: 8,
            mode: SwapMode::Greedy,
        },
    );
    assert!(round.swaps > 0);
    let stream = layout.domain_of(layout.layer_named("s0").unwrap());
    assert!(
        round.permutations[stream].is_some(),
        "the stream group moved as one"
    );
    for (d, p) in round.permutations.iter().enumerate() {
        if let Some(p) = p {
            model.permute(d, p).unwrap();
        }
    }
    assert_eq!(model.params.to_host(), host);
    assert!(distances.cost(&layout, &host) < cost);
    assert!(max_diff(&before, &outputs(&model, &x)) < 1e-5);
}

#[test]
fn stream_layers_of_different_widths_are_rejected() {
    // A user who makes the skip join layers of different sizes gets a clear error.
    let mut b = bimt_layout::LayoutBuilder::new();
    let s0 = b.layer("s0", 8, bimt_layout::Placement::Line, 0.0);
    let s1 = b.layer("s1", 6, bimt_layout::Placement::Line, 1.0);
    b.linear(s0, s1, true);
    b.domain(bimt_layout::Domain {
        name: "stream".into(),
        layers: vec![s0, s1],
        block: None,
        fixed: false,
        extra_axes: vec![],
    });
    let e = b.build().unwrap_err().to_string();
    assert!(
        e.contains("stream") && e.contains("8 and 6") && e.contains("s1"),
        "{e}"
    );
}

#[test]
fn the_file_declared_twin_is_the_same_network() {
    // residual_mlp.json declares this residual MLP as data: the identity edges s0 -> s1 and
    // s1 -> s2 derive the stream's coupling group. Same parameters, same function.
    let config = ResidualMlpConfig {
        inputs: 4,
        width: 12,
        hidden: 12,
        blocks: 2,
        outputs: 2,
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("residual_mlp.json");
    let device = default_device().autodiff();
    let rust = Model::new(ResidualMlp::new(config).unwrap(), 7, &device).unwrap();
    let file = Model::new(bimt_graph::Graph::from_file(&path).unwrap(), 7, &device).unwrap();
    assert_eq!(rust.params.to_host(), file.params.to_host());
    let layout = file.network.layout();
    let s0 = layout.domain_of(layout.layer_named("s0").unwrap());
    assert_eq!(layout.domains()[s0].name, "s0+s1+s2");
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let x = Tensor::from_data(
        TensorData::new(
            (0..40)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect::<Vec<f32>>(),
            [10, 4],
        ),
        &device,
    );
    let (a, b) = (
        rust.predict(x.clone(), false).into_data().convert::<f32>(),
        file.predict(x, false).into_data().convert::<f32>(),
    );
    let (a, b) = (a.as_slice::<f32>().unwrap(), b.as_slice::<f32>().unwrap());
    assert!(max_diff(a, b) < 1e-6, "{}", max_diff(a, b));
}
