//! Modules: the parts of a network that no visible weight joins below the output layer
//! (paper §3.3: a tree with several roots), and what is left when one is knocked out.

use crate::visible_weights;
use bimt_format::{LayerRole, ModelFile};
use petgraph::unionfind::UnionFind;
use serde::Serialize;

/// One module: its neurons, as `(layer, neuron)` in storage order, layer by layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Module {
    /// The neurons, sorted.
    pub neurons: Vec<(usize, usize)>,
}

impl Module {
    /// How many of the module's neurons sit in `layer`.
    pub fn count_in(&self, layer: usize) -> usize {
        self.neurons.iter().filter(|(l, _)| *l == layer).count()
    }
}

/// The connected components of the visible weights (at least `threshold ×` the largest |w|
/// of their matrix) and identity connections among all layers but the output layers, keeping
/// those with a visible weight (or identity connection) into an output layer: the modules
/// that each vote on the outputs. The touched neurons of one attention head are joined too:
/// each of them shapes the head's attention pattern, which every value of the head passes
/// through. Sorted by size, largest first.
pub fn modules(model: &ModelFile, threshold: f64) -> Vec<Module> {
    let layers = &model.neuron_layers;
    let output: Vec<bool> = model
        .roles()
        .iter()
        .map(|&r| r == LayerRole::Output)
        .collect();
    let offsets: Vec<usize> = layers
        .iter()
        .scan(0, |total, l| {
            let start = *total;
            *total += l.size;
            Some(start)
        })
        .collect();
    let total = layers.iter().map(|l| l.size).sum();
    let mut sets = UnionFind::<usize>::new(total);
    let mut joined = vec![false; total];
    let mut votes = vec![false; total];
    let mut link = |from: usize, i: usize, to: usize, o: usize| {
        let a = offsets[from] + i;
        if output[to] {
            votes[a] = true;
        } else {
            let b = offsets[to] + o;
            sets.union(a, b);
            joined[a] = true;
            joined[b] = true;
        }
    };
    visible_weights(model, threshold, &mut link);
    for c in model
        .connections
        .iter()
        .filter(|c| c.kind.joins_neuron_to_neuron())
    {
        for n in 0..layers[c.from].size {
            link(c.from, n, c.to, n);
        }
    }
    for (l, layer) in layers.iter().enumerate() {
        let Some(heads) = layer.attention.map(|a| a.heads).filter(|&h| h > 0) else {
            continue;
        };
        let d = layer.size / heads;
        for h in 0..heads {
            let touched: Vec<usize> = (h * d..(h + 1) * d)
                .map(|n| offsets[l] + n)
                .filter(|&id| joined[id] || votes[id])
                .collect();
            for pair in touched.windows(2) {
                sets.union(pair[0], pair[1]);
            }
        }
    }
    let mut by_root: std::collections::BTreeMap<usize, Module> = Default::default();
    for (l, layer) in layers.iter().enumerate().filter(|&(l, _)| !output[l]) {
        for n in 0..layer.size {
            let id = offsets[l] + n;
            if joined[id] || votes[id] {
                by_root
                    .entry(sets.find(id))
                    .or_insert_with(|| Module {
                        neurons: Vec::new(),
                    })
                    .neurons
                    .push((l, n));
            }
        }
    }
    let mut found: Vec<Module> = by_root
        .into_values()
        .filter(|m| m.neurons.iter().any(|&(l, n)| votes[offsets[l] + n]))
        .collect();
    found.sort_by(|a, b| {
        b.neurons
            .len()
            .cmp(&a.neurons.len())
            .then(a.neurons.cmp(&b.neurons))
    });
    found
}

/// The model with every weight leaving a neuron of `module` set to zero: the module no longer
/// passes anything on through weights (identity connections still carry its values).
pub fn knock_out(model: &ModelFile, module: &Module) -> ModelFile {
    let mut out = model.clone();
    for c in &mut out.connections {
        let n_from = out.neuron_layers[c.from].size;
        for row in &mut c.weight {
            for (i, w) in row.iter_mut().enumerate() {
                if module.neurons.binary_search(&(c.from, i % n_from)).is_ok() {
                    *w = 0.0;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bimt_format::{ConnectionFile, CostSpec, NeuronLayerFile};

    /// 4 inputs, 4 hidden, 2 outputs: inputs 0,1 -> hidden 0 -> both outputs; inputs 2,3 ->
    /// hidden 2 -> output 1; hidden 3 is fed but feeds nothing.
    fn two_modules() -> ModelFile {
        let mut w1 = vec![vec![0.0f32; 4]; 4];
        w1[0][0] = 1.0;
        w1[0][1] = -0.5;
        w1[2][2] = 0.8;
        w1[2][3] = 0.6;
        w1[3][3] = 0.9;
        let mut w2 = vec![vec![0.0f32; 4]; 2];
        w2[0][0] = 1.0;
        w2[1][0] = 0.5;
        w2[1][2] = -1.0;
        ModelFile {
            activation: "silu".into(),
            neuron_layers: vec![
                NeuronLayerFile::line("input", 4, 0.0),
                NeuronLayerFile::line("hidden", 4, 1.0),
                NeuronLayerFile::line("output", 2, 2.0),
            ],
            connections: vec![
                ConnectionFile::plain(0, 1, w1),
                ConnectionFile::plain(1, 2, w2),
            ],
            input_features: (0..4).collect(),
            output_features: vec![0, 1],
            input_names: vec![],
            output_names: vec![],
            cost: CostSpec {
                metric: "l1".into(),
                a: 1.0,
                y_star: 1.0,
                reduction: "sum".into(),
                bias_penalty: false,
                last_layer_distance: true,
            },
            token_embedding: None,
            token_positions: None,
            sequence: None,
            format: 1,
        }
    }

    #[test]
    fn finds_the_modules_that_reach_the_outputs() {
        let found = modules(&two_modules(), 0.03);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].neurons, vec![(0, 2), (0, 3), (1, 2), (1, 3)]);
        assert_eq!(found[1].neurons, vec![(0, 0), (0, 1), (1, 0)]);
        assert_eq!(found[0].count_in(0), 2);
    }

    #[test]
    fn live_neurons_lie_on_a_path_from_an_input_to_an_output() {
        let live = crate::live_neurons(&two_modules(), 0.03);
        // Hidden 1 has no visible weight; hidden 3 is fed but feeds nothing.
        assert_eq!(live[1], vec![true, false, true, false]);
        assert_eq!(live[0], vec![true; 4]);
        assert_eq!(live[2], vec![true; 2]);
    }

    #[test]
    fn the_neurons_of_one_attention_head_are_one_module() {
        // 4 inputs -> an attention layer of 4 neurons in 2 heads -> 2 outputs. Input i
        // feeds only Q, K or V column i; attention neuron i feeds only output i % 2. By weights
        // alone each of the four is its own module; the heads join 0 with 1 and 2 with 3.
        let mut qkv = vec![vec![0.0f32; 4]; 12];
        for (i, block) in [0, 1, 2, 2].into_iter().enumerate() {
            qkv[block * 4 + i][i] = 1.0;
        }
        let mut projection = vec![vec![0.0f32; 4]; 2];
        for (n, row) in [0, 1, 0, 1].into_iter().enumerate() {
            projection[row][n] = 1.0;
        }
        let mut model = two_modules();
        model.sequence = Some(2);
        let mut attention = NeuronLayerFile::line("atn", 4, 1.0);
        attention.attention = Some(bimt_format::AttentionFile {
            heads: 2,
            causal: true,
        });
        model.neuron_layers[1] = attention;
        let mut packed = ConnectionFile::plain(0, 1, qkv);
        packed.out_fold = 3;
        model.connections = vec![packed, ConnectionFile::plain(1, 2, projection)];
        let found = modules(&model, 0.03);
        assert_eq!(
            found.iter().map(|m| m.neurons.clone()).collect::<Vec<_>>(),
            vec![
                vec![(0, 0), (0, 1), (1, 0), (1, 1)],
                vec![(0, 2), (0, 3), (1, 2), (1, 3)]
            ]
        );
        model.neuron_layers[1].attention = Some(bimt_format::AttentionFile {
            heads: 1,
            causal: true,
        });
        assert_eq!(modules(&model, 0.03).len(), 1, "one head joins all four");
    }

    #[test]
    fn knocking_out_a_module_silences_only_it() {
        let model = two_modules();
        let found = modules(&model, 0.03);
        let out = knock_out(&model, &found[1]);
        let x = [1.0, 1.0, 1.0, 1.0];
        let (before, after) = (crate::predict(&model, &x), crate::predict(&out, &x));
        // Output 0 hears only the knocked-out module, output 1 still hears the other one.
        assert_eq!(after[0], 0.0);
        assert!(before[0] != 0.0 && after[1] != 0.0 && after[1] != before[1]);
        assert_eq!(modules(&out, 0.03).len(), 1);
    }
}
