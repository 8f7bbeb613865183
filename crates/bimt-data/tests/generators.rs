//! Tests of the synthetic generators and the batch sampler.

use std::collections::HashSet;

use bimt_data::{
    BatchSampler, Formula, Sampling, Targets, in_context, intermediate_i, symbolic, two_moons,
};

fn regression(targets: &Targets) -> (&[f32], usize) {
    match targets {
        Targets::Regression { values, dim } => (values, *dim),
        Targets::Classes { .. } => panic!("expected regression targets"),
    }
}

fn classes(targets: &Targets) -> (&[u32], usize) {
    match targets {
        Targets::Classes { labels, classes } => (labels, *classes),
        Targets::Regression { .. } => panic!("expected class targets"),
    }
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-5 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn symbolic_shapes_ranges_and_names() {
    for formula in Formula::ALL {
        let data = symbolic(formula, 100, 37, 7);
        let (d, k) = (formula.in_dim(), formula.out_dim());
        assert_eq!(data.in_dim(), d);
        assert_eq!(data.out_dim(), k);
        for (split, n) in [(&data.train, 100), (&data.test, 37)] {
            assert_eq!(split.n, n);
            assert_eq!(split.in_dim, d);
            assert_eq!(split.inputs.len(), n * d);
            assert!(split.inputs.iter().all(|v| (-1.0..=1.0).contains(v)));
            let (values, dim) = regression(&split.targets);
            assert_eq!((values.len(), dim), (n * k, k));
            assert!(values.iter().all(|v| v.is_finite()));
        }
        let want_in: Vec<String> = (1..=d).map(|i| format!("x{i}")).collect();
        let want_out: Vec<String> = (1..=k).map(|i| format!("y{i}")).collect();
        assert_eq!(data.input_names, want_in);
        assert_eq!(data.output_names, want_out);
        assert_eq!(formula.name().parse::<Formula>().unwrap(), formula);
        assert_eq!(formula.to_string(), formula.name());
    }
    let err = "nope".parse::<Formula>().unwrap_err();
    assert!(err.to_string().contains("nope"));
    assert_eq!(
        "Feature_Sharing".parse::<Formula>().unwrap(),
        Formula::FeatureSharing
    );
}

#[test]
fn symbolic_formulas_hold_row_by_row() {
    let pi = std::f32::consts::PI;
    for formula in Formula::ALL {
        let data = symbolic(formula, 20, 20, 3);
        for split in [&data.train, &data.test] {
            for i in 0..split.n {
                let x = split.row(i);
                let y = split.target_row(i).unwrap();
                let want: Vec<f32> = match formula {
                    Formula::Independence => {
                        vec![(x[0] + x[2]).powi(3), x[1] * x[1] + (pi * x[3]).sin()]
                    }
                    Formula::FeatureSharing => vec![
                        x[0] * x[0],
                        x[0] * x[0] + x[1] * x[1],
                        x[0] * x[0] + x[1] * x[1] + x[2] * x[2],
                    ],
                    Formula::Compositionality => {
                        vec![((x[0] - x[1]).powi(2) + (x[2] - x[3]).powi(2)).sqrt()]
                    }
                    Formula::Pruning => {
                        vec![x[0] * x[3] + x[1] * x[2], x[0] * x[3] - x[1] * x[2]]
                    }
                };
                assert_eq!(y.len(), want.len());
                for (a, b) in y.iter().zip(&want) {
                    assert!(close(*a, *b), "{formula}: row {i}: {y:?} vs {want:?}");
                }
            }
        }
    }
    assert_eq!(intermediate_i(&[1.0, 0.0, 0.5, -0.5]), 2.0);
    let x = [0.3, -0.2, 0.9, 0.1];
    let y = Formula::Compositionality.eval(&x).unwrap();
    assert!(close(y[0] * y[0], intermediate_i(&x)));
    assert_eq!(Formula::Pruning.eval(&[1.0, 2.0]), None);
}

#[test]
fn symbolic_is_deterministic_and_train_test_differ() {
    let a = symbolic(Formula::Independence, 50, 50, 42);
    let b = symbolic(Formula::Independence, 50, 50, 42);
    let c = symbolic(Formula::Independence, 50, 50, 43);
    assert_eq!(a, b);
    assert_ne!(a.train.inputs, c.train.inputs);
    assert_ne!(a.train.inputs, a.test.inputs);
    // Train rows are a prefix of the stream: more test rows leave them alone.
    assert_eq!(symbolic(Formula::Independence, 50, 10, 42).train, a.train);
}

#[test]
fn two_moons_noise_free_follows_the_formula() {
    for n in [0, 1, 2, 7, 200] {
        let data = two_moons(n, n + 1, 0.0, 5);
        for split in [&data.train, &data.test] {
            let (labels, k) = classes(&split.targets);
            assert_eq!(k, 2);
            assert_eq!(split.inputs.len(), 2 * split.n);
            let zeros = labels.iter().filter(|&&l| l == 0).count();
            assert_eq!(zeros, split.n / 2, "class 0 holds floor(n/2)");
            assert_eq!(split.n - zeros, split.n - split.n / 2);
            let mut t_upper = Vec::new();
            let mut t_lower = Vec::new();
            for i in 0..split.n {
                let [x, y] = [split.row(i)[0], split.row(i)[1]];
                if split.label(i) == Some(0) {
                    // (cos t, sin t), t in [0, π].
                    assert!(close(x * x + y * y, 1.0));
                    assert!(y >= -1e-6);
                    t_upper.push(y.atan2(x));
                } else {
                    // (1 − cos t, 0.5 − sin t), t in [0, π].
                    let (c, s) = (1.0 - x, 0.5 - y);
                    assert!(close(c * c + s * s, 1.0));
                    assert!(s >= -1e-6);
                    t_lower.push(s.atan2(c));
                }
            }
            // t = linspace(0, π, count) in both moons.
            for ts in [&mut t_upper, &mut t_lower] {
                ts.sort_by(f32::total_cmp);
                let m = ts.len();
                for (j, t) in ts.iter().enumerate() {
                    let want = if m > 1 {
                        std::f32::consts::PI * j as f32 / (m - 1) as f32
                    } else {
                        0.0
                    };
                    assert!((t - want).abs() < 1e-4, "t = {t}, want {want}");
                }
            }
        }
    }
}

#[test]
fn two_moons_noise_shuffle_and_determinism() {
    let a = two_moons(200, 200, 0.1, 1);
    assert_eq!(a, two_moons(200, 200, 0.1, 1));
    assert_ne!(a.train.inputs, two_moons(200, 200, 0.1, 2).train.inputs);
    assert_ne!(a.train.inputs, a.test.inputs);
    assert_eq!(a.input_names, ["x1", "x2"]);
    assert_eq!(a.output_names, ["class 0", "class 1"]);
    let (labels, _) = classes(&a.train.targets);
    // Shuffled: labels are not sorted.
    assert!(labels.windows(2).any(|w| w[0] > w[1]));
    // Noise of σ = 0.1: distance to the own circle has spread ≈ 0.1.
    let mut sq = 0.0f64;
    for i in 0..a.train.n {
        let [x, y] = [a.train.row(i)[0], a.train.row(i)[1]];
        let r = if a.train.label(i) == Some(0) {
            (x * x + y * y).sqrt()
        } else {
            ((1.0 - x).powi(2) + (0.5 - y).powi(2)).sqrt()
        };
        sq += f64::from(r - 1.0).powi(2);
    }
    let rms = (sq / a.train.n as f64).sqrt();
    assert!((0.05..0.15).contains(&rms), "rms radial deviation {rms}");
}

#[test]
fn in_context_layout_and_linearity() {
    let ic = in_context(1000, (1.0, 3.0), (-1.0, 1.0), 0.2, 9);
    assert_eq!((ic.seq_len, ic.token_dim), (3, 2));
    assert_eq!(ic.data.train.n, 800);
    assert_eq!(ic.data.test.n, 200);
    assert_eq!(ic.train_w.len(), 800);
    assert_eq!(ic.test_w.len(), 200);
    assert_eq!(ic.data.input_names.len(), 6);
    assert_eq!(ic.data.output_names.len(), 6);
    for (split, ws) in [(&ic.data.train, &ic.train_w), (&ic.data.test, &ic.test_w)] {
        assert_eq!(split.in_dim, 6);
        assert_eq!(split.targets.dim(), 6);
        for (i, &w) in ws.iter().enumerate() {
            let r = split.row(i);
            let t = split.target_row(i).unwrap();
            let (x1, y1, x2) = (r[1], r[2], r[5]);
            assert!((1.0..=3.0).contains(&x1) && (1.0..=3.0).contains(&x2));
            assert!((-1.0..=1.0).contains(&w));
            assert_eq!(r, [0.0, x1, w * x1, 0.0, 0.0, x2]);
            assert_eq!(t, [y1, 0.0, 0.0, x2, w * x2, 0.0]);
            assert_eq!(ic.token(split, i, 1), Some(&[y1, 0.0][..]));
        }
        assert_eq!(ic.token(split, split.n, 0), None);
        assert_eq!(ic.token(split, 0, 3), None);
    }
    let again = in_context(1000, (1.0, 3.0), (-1.0, 1.0), 0.2, 9);
    assert_eq!(ic, again);
    assert_ne!(
        ic.train_w,
        in_context(1000, (1.0, 3.0), (-1.0, 1.0), 0.2, 10).train_w
    );
    // Odd fractions never panic.
    assert_eq!(
        in_context(10, (1.0, 3.0), (-1.0, 1.0), 2.0, 0).data.test.n,
        10
    );
    assert_eq!(
        in_context(10, (3.0, 1.0), (1.0, 1.0), f32::NAN, 0)
            .data
            .train
            .n,
        10
    );
    assert_eq!(
        in_context(0, (1.0, 3.0), (-1.0, 1.0), 0.2, 0).data.train.n,
        0
    );
}

#[test]
fn epoch_sampler_covers_every_index_once_per_epoch() {
    let mut s = BatchSampler::new(10, 4, Sampling::Epochs, 1);
    let mut seen = Vec::new();
    let sizes: Vec<usize> = (0..3)
        .map(|_| {
            let b = s.next_batch();
            seen.extend_from_slice(b);
            b.len()
        })
        .collect();
    assert_eq!(sizes, [4, 4, 2]);
    assert_eq!(s.epoch(), 1);
    seen.sort_unstable();
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
    let second: HashSet<usize> = (0..3).flat_map(|_| s.next_batch().to_vec()).collect();
    assert_eq!(second.len(), 10);
    assert_eq!(s.epoch(), 2);

    let mut a = BatchSampler::new(100, 8, Sampling::Epochs, 5);
    let mut b = BatchSampler::new(100, 8, Sampling::Epochs, 5);
    let mut c = BatchSampler::new(100, 8, Sampling::Epochs, 6);
    let xa: Vec<usize> = (0..30).flat_map(|_| a.next_batch().to_vec()).collect();
    let xb: Vec<usize> = (0..30).flat_map(|_| b.next_batch().to_vec()).collect();
    let xc: Vec<usize> = (0..30).flat_map(|_| c.next_batch().to_vec()).collect();
    assert_eq!(xa, xb);
    assert_ne!(xa, xc);
}

#[test]
fn replacement_sampler_and_edge_cases() {
    let mut s = BatchSampler::new(5, 64, Sampling::WithReplacement, 3);
    let batch = s.next_batch().to_vec();
    assert_eq!(batch.len(), 64);
    assert!(batch.iter().all(|&i| i < 5));
    assert_eq!(batch.iter().collect::<HashSet<_>>().len(), 5);
    assert_eq!(s.epoch(), 0);
    let mut t = BatchSampler::new(5, 64, Sampling::WithReplacement, 3);
    assert_eq!(t.next_batch(), &batch[..]);

    assert!(
        BatchSampler::new(0, 4, Sampling::Epochs, 0)
            .next_batch()
            .is_empty()
    );
    let mut empty = BatchSampler::new(0, 4, Sampling::WithReplacement, 0);
    assert!(empty.is_empty());
    assert!(empty.next_batch().is_empty());
    let mut zero = BatchSampler::new(3, 0, Sampling::Epochs, 0);
    assert_eq!(zero.batch_size(), 1);
    assert_eq!(zero.next_batch().len(), 1);
    let mut big = BatchSampler::new(3, 10, Sampling::Epochs, 0);
    assert_eq!(big.next_batch().len(), 3);
    assert_eq!(big.next_batch().len(), 3);

    // Gathering a batch.
    let data = symbolic(Formula::Pruning, 10, 0, 0);
    let idx = [3, 1, 3];
    let sub = data.train.subset(&idx);
    assert_eq!(sub.n, 3);
    assert_eq!(sub.row(0), data.train.row(3));
    assert_eq!(sub.row(1), data.train.row(1));
    assert_eq!(sub.target_row(2), data.train.target_row(3));
    assert_eq!(sub.targets.len(), 3);
}
