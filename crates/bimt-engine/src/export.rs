use crate::model::{Model, Network};
use bimt_format::{ConnectionFile, CostSpec, ModelFile, NeuronLayerFile};

/// The model as a plain [`ModelFile`] (`model.json`): layers with in-layer coordinates,
/// connections as `weight[o][i]`, the input and output order, and the cost definition.
pub fn export_model<N: Network>(
    model: &Model<N>,
    input_names: &[String],
    output_names: &[String],
    cost: CostSpec,
) -> ModelFile {
    let layout = model.network.layout();
    let host = model.params.to_host();
    let index: Vec<_> = layout.graph().node_indices().collect();
    let neuron_layers = index
        .iter()
        .map(|&l| {
            let layer = layout.layer(l);
            let dims = layer.placement.dimensions();
            NeuronLayerFile {
                name: layer.name.clone(),
                size: layer.size,
                coords: layer
                    .positions
                    .iter()
                    .map(|p| [p.x, p.y][..dims].to_vec())
                    .collect(),
                depth: layer.depth,
            }
        })
        .collect();
    let connections = layout
        .connections()
        .map(|(id, from, to, c)| {
            let [rows, cols] = layout.params()[c.weight].shape;
            let w = &host[c.weight];
            ConnectionFile {
                from: from.index(),
                to: to.index(),
                weight: (0..cols)
                    .map(|o| (0..rows).map(|i| w[i * cols + o]).collect())
                    .collect(),
                bias: c.bias.map(|b| host[b].clone()),
                in_fold: c.in_fold,
                out_fold: c.out_fold,
                activation: model.network.connection_activation(id),
            }
        })
        .collect();
    ModelFile {
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
    }
}
