//! The MNIST MLP's 3D embedding (paper §3.5, Fig. 8): where every neuron sits.

use bimt_engine::Network;
use bimt_mlp::{Mlp, MlpConfig};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn mnist_layers_are_grids_and_a_ring_stacked_in_depth() {
    let mlp = Mlp::new(&MlpConfig::image(28, 28, &[(10, 10), (10, 10)], 10)).unwrap();
    let layout = mlp.layout();
    let layers: Vec<_> = mlp.layers().iter().map(|&l| layout.layer(l)).collect();
    let sizes: Vec<usize> = layers.iter().map(|l| l.size).collect();
    assert_eq!(sizes, vec![784, 100, 100, 10]);

    // Input: the 28×28 pixel grid at depth 0, row-major, cell centres.
    let input = &layers[0];
    for (i, p) in input.positions.iter().enumerate() {
        let (r, c) = (i / 28, i % 28);
        assert!(
            close(p.x, (c as f64 + 0.5) / 28.0),
            "pixel {i}: x = {}",
            p.x
        );
        assert!(
            close(p.y, (r as f64 + 0.5) / 28.0),
            "pixel {i}: y = {}",
            p.y
        );
        assert!(close(p.z, 0.0));
    }
    // Hidden layers: 10×10 grids at depths 1 and 2.
    for (layer, depth) in [(&layers[1], 1.0), (&layers[2], 2.0)] {
        for (i, p) in layer.positions.iter().enumerate() {
            assert!(close(p.x, ((i % 10) as f64 + 0.5) / 10.0));
            assert!(close(p.y, ((i / 10) as f64 + 0.5) / 10.0));
            assert!(close(p.z, depth), "{}: depth {}", layer.name, p.z);
        }
    }
    // Output: ten neurons evenly on a ring of radius 1/4 around (0.5, 0.5), at depth 3.
    let output = &layers[3];
    for (i, p) in output.positions.iter().enumerate() {
        let angle = std::f64::consts::TAU * i as f64 / 10.0;
        assert!(close(p.x, 0.5 + 0.25 * angle.cos()));
        assert!(close(p.y, 0.5 + 0.25 * angle.sin()));
        assert!(close(p.z, 3.0));
    }
    // The pixels are a fixed domain; every other layer may swap.
    let input_domain = layout.domain_of(mlp.layers()[0]);
    assert!(layout.domains()[input_domain].fixed);
    for &l in &mlp.layers()[1..] {
        assert!(!layout.domains()[layout.domain_of(l)].fixed);
    }
}

#[test]
fn grid_sizes_must_match_the_widths() {
    let mut config = MlpConfig::image(28, 28, &[(10, 10)], 10);
    config.widths[1] = 99;
    let err = Mlp::new(&config).unwrap_err().to_string();
    assert!(err.contains("10x10") && err.contains("99"), "{err}");
}
