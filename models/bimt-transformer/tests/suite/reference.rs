//! The burn forward pass against a plain loop-by-loop reference: head slicing, the
//! 1/sqrt(head_dim) scale, the causal mask, GELU and the residual adds.

use crate::common::{config, host, max_relative, model, tokens};
use bimt_engine::{Network, Tensor, TensorData, default_device};

/// `x·W + b` for one row, `W` row-major `[x.len(), b.len()]`.
fn linear(x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
    let mut y = b.to_vec();
    for (xi, row) in x.iter().zip(w.chunks_exact(b.len())) {
        y.iter_mut().zip(row).for_each(|(y, w)| *y += xi * w);
    }
    y
}

fn add(a: &mut [f32], b: &[f32]) {
    a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
}

#[test]
fn forward_matches_a_loop_reference() {
    let config = config(8, 2, 2);
    let model = model(config, 9);
    let x = tokens(&config, 3, 6);
    let got = host(model.predict(x.clone(), false));
    let p = model.params.to_host();
    let layout = model.network.layout();
    let (w, hd, t) = (config.width, config.width / config.heads, config.seq_len);
    // Parameters in connection order: embed, then per block qkv, proj, fc1, fc2, then unembed.
    let linears: Vec<(usize, usize)> = layout
        .connections()
        .map(|(_, _, _, c)| (c.weight, c.bias.expect("bias")))
        .collect();
    let lin = |i: usize, x: &[f32]| linear(x, &p[linears[i].0], &p[linears[i].1]);
    let gelu = |v: Vec<f32>| {
        let n = v.len();
        host(burn::tensor::activation::gelu(Tensor::<2>::from_data(
            TensorData::new(v, [1, n]),
            &default_device(),
        )))
    };
    let xs = host(x);
    let mut expected = Vec::new();
    for seq in xs.chunks_exact(t * config.token_dim) {
        let mut h: Vec<Vec<f32>> = seq
            .chunks_exact(config.token_dim)
            .map(|tok| lin(0, tok))
            .collect();
        for block in 0..config.depth {
            let c = 1 + 4 * block;
            let qkv: Vec<Vec<f32>> = h.iter().map(|r| lin(c, r)).collect();
            for (i, row) in h.iter_mut().enumerate() {
                let mut attended = vec![0.0; w];
                for head in 0..config.heads {
                    let cols = head * hd..(head + 1) * hd;
                    let scores: Vec<f32> = (0..=i)
                        .map(|s| {
                            let (q, k) =
                                (&qkv[i][cols.clone()], &qkv[s][w + cols.start..w + cols.end]);
                            q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() / (hd as f32).sqrt()
                        })
                        .collect();
                    let max = scores.iter().fold(f32::MIN, |m, &s| m.max(s));
                    let weights: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
                    let total: f32 = weights.iter().sum();
                    for (s, a) in weights.iter().enumerate() {
                        for d in cols.clone() {
                            attended[d] += a / total * qkv[s][2 * w + d];
                        }
                    }
                }
                add(row, &lin(c + 1, &attended));
                let hidden = gelu(lin(c + 2, row));
                add(row, &lin(c + 3, &hidden));
            }
        }
        expected.extend(h.iter().flat_map(|r| lin(1 + 4 * config.depth, r)));
    }
    let err = max_relative(&expected, &got);
    assert!(
        err < 1e-5,
        "the burn forward differs from the reference by {err}"
    );
}
