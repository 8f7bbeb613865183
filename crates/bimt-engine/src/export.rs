//! The trained model as a plain [`ModelFile`] (`model.json`), the interface to views and
//! analysis.

use crate::model::{Model, Network};
use bimt_format::{
    ConnectionFile, ConnectionKind, CostSpec, LayerRole, MODEL_FORMAT, ModelFile, NeuronLayerFile,
};
use bimt_layout::Direction;

/// The model as a plain [`ModelFile`] (`model.json`, format 2): layers with their role,
/// activation, in-layer coordinates and (input and output layers) the data columns their
/// neurons hold; connections as `weight[o][i]`, identity edges included; the cost definition.
pub fn export_model<N: Network>(
    model: &Model<N>,
    input_names: &[String],
    output_names: &[String],
    cost: CostSpec,
) -> ModelFile {
    let layout = model.network.layout();
    let host = model.params.to_host();
    let features = |inputs: bool| {
        let order = if inputs {
            model.input_order()
        } else {
            model.output_order()
        };
        model
            .segments(inputs)
            .into_iter()
            .map(|(l, offset)| (l, order[offset..offset + layout.layer(l).size].to_vec()))
            .collect::<Vec<_>>()
    };
    let (inputs, outputs) = (features(true), features(false));
    let neuron_layers = layout
        .graph()
        .node_indices()
        .map(|l| {
            let layer = layout.layer(l);
            let dims = layer.placement.dimensions();
            let find = |list: &[(bimt_layout::LayerId, Vec<usize>)]| {
                list.iter().find(|(m, _)| *m == l).map(|(_, f)| f.clone())
            };
            let (role, features) = match (find(&inputs), find(&outputs)) {
                (Some(f), _) => (LayerRole::Input, Some(f)),
                (_, Some(f)) => (LayerRole::Output, Some(f)),
                _ => (LayerRole::Hidden, None),
            };
            NeuronLayerFile {
                name: layer.name.clone(),
                size: layer.size,
                coords: layer
                    .positions
                    .iter()
                    .map(|p| [p.x, p.y][..dims].to_vec())
                    .collect(),
                depth: layer.depth,
                role: Some(role),
                activation: Some(model.network.layer_activation(l)),
                features,
                attention: model.network.attention(l),
                shape: model.network.layer_shape(l),
                learned_positions: model.network.learned_positions(l).map(|p| {
                    let [_, cols] = layout.params()[p].shape;
                    host[p].chunks(cols).map(<[f32]>::to_vec).collect()
                }),
            }
        })
        .collect();
    let mut connections: Vec<ConnectionFile> = layout
        .connections()
        .map(|(id, from, to, c)| {
            let [rows, cols] = layout.params()[c.weight].shape;
            let w = &host[c.weight];
            ConnectionFile {
                from: from.index(),
                to: to.index(),
                kind: ConnectionKind::Linear,
                weight: (0..cols)
                    .map(|o| (0..rows).map(|i| w[i * cols + o]).collect())
                    .collect(),
                bias: c.bias.map(|b| host[b].clone()),
                in_fold: c.in_fold,
                out_fold: c.out_fold,
                activation: model.network.connection_activation(id),
                tied: false,
                window: model.network.connection_window(id),
            }
        })
        .collect();
    connections.extend(layout.identities().iter().map(|&(from, to)| {
        let window = model.network.pool_window(from, to);
        ConnectionFile {
            kind: if window.is_some() {
                ConnectionKind::Pool
            } else {
                ConnectionKind::Identity
            },
            window,
            ..ConnectionFile::plain(from.index(), to.index(), Vec::new())
        }
    }));
    // Tied edges: weight[o][i] = tied[o][i], the parameter's rows (a token table's tokens).
    connections.extend(layout.tied().iter().map(|t| {
        let [_, cols] = layout.params()[t.weight].shape;
        ConnectionFile {
            tied: true,
            ..ConnectionFile::plain(
                t.from.index(),
                t.to.index(),
                host[t.weight].chunks(cols).map(<[f32]>::to_vec).collect(),
            )
        }
    }));
    ModelFile {
        format: MODEL_FORMAT,
        activation: model.network.activation(),
        neuron_layers,
        connections,
        input_features: model.input_order().to_vec(),
        output_features: model.output_order().to_vec(),
        input_names: input_names.to_vec(),
        output_names: output_names.to_vec(),
        cost,
        token_embedding: model.network.token_embedding().map(|e| {
            let [_, cols] = layout.params()[e].shape;
            host[e].chunks(cols).map(<[f32]>::to_vec).collect()
        }),
        // The ids per row: the fold of the connections that read the embedded input layer.
        token_positions: model.network.token_embedding().map(|_| {
            layout
                .inputs()
                .iter()
                .flat_map(|&l| layout.connections_at(l, Direction::Outgoing))
                .map(|(_, c)| c.in_fold)
                .max()
                .unwrap_or(1)
        }),
        sequence: model.network.sequence(),
    }
}
