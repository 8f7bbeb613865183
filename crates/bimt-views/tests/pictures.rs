//! The pictures through the public API: the graph's SVG and PNG agree, charts have ticks and
//! tick labels, and odd data do not break them.

use bimt_format::{ConnectionFile, ConnectionKind, CostSpec, ModelFile, NeuronLayerFile};
use bimt_views::{
    Curves, GraphStyle, LinePlot, Part, Series, Shape, graph_scene, render_curves, render_graph,
    render_graph_svg, render_line_chart, render_line_plot,
};
use image::RgbImage;

/// A 3-4-2 network with awkward names; every weight is non-zero except `weight[1][2]` of the
/// first matrix, and `weight[0][0]` of the second is too small to draw.
fn model() -> ModelFile {
    let first = (0..4)
        .map(|o| {
            (0..3)
                .map(|i| (o as f32 - 1.5) * (i as f32 + 1.0))
                .collect()
        })
        .collect::<Vec<Vec<f32>>>();
    let mut first = first;
    first[1][2] = 0.0;
    let mut second = vec![vec![1.0, -2.0, 3.0, -4.0], vec![0.5, 0.25, -0.75, 1.0]];
    second[0][0] = 1e-3;
    ModelFile {
        format: 1,
        activation: "silu".into(),
        neuron_layers: vec![
            NeuronLayerFile::line("in <put> & \"more\"", 3, 0.0),
            NeuronLayerFile::line("hidden", 4, 1.0),
            NeuronLayerFile::line("out'", 2, 2.0),
        ],
        connections: vec![
            ConnectionFile::plain(0, 1, first),
            ConnectionFile::plain(1, 2, second),
        ],
        input_features: vec![2, 0, 1],
        output_features: vec![0, 1],
        input_names: vec!["x<1>".into(), "x&2".into(), "λ3".into()],
        output_names: vec!["y \"a\"".into(), "y'b".into()],
        cost: CostSpec {
            metric: "l1".into(),
            a: 2.0,
            y_star: 1.0,
            reduction: "sum".into(),
            bias_penalty: true,
            last_layer_distance: true,
        },
        token_embedding: None,
        token_positions: None,
        sequence: None,
    }
}

#[test]
fn svg_is_well_formed_and_names_every_layer_and_feature() {
    let m = model();
    let svg = render_graph_svg(&m, &GraphStyle::default());
    let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some("800"));
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "text")
        .filter_map(|n| n.text())
        .collect();
    for name in m
        .neuron_layers
        .iter()
        .map(|l| l.name.as_str())
        .chain(m.input_names.iter().map(String::as_str))
        .chain(m.output_names.iter().map(String::as_str))
    {
        assert!(texts.contains(&name), "{name:?} is not among {texts:?}");
    }
}

#[test]
fn png_and_svg_draw_the_same_weight_lines() {
    let (m, style) = (model(), GraphStyle::default());
    let scene = graph_scene(&m, &style);
    let weights = scene
        .shapes
        .iter()
        .filter(|(part, shape)| *part == Part::Weight && matches!(shape, Shape::Line { .. }))
        .count();
    // 12 + 8 weights, less the zero and the one too thin to see.
    assert_eq!(weights, 18);
    let svg = render_graph_svg(&m, &style);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let group = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("weights"))
        .expect("a group of weights");
    let lines = group
        .children()
        .filter(|n| n.tag_name().name() == "line")
        .count();
    assert_eq!(lines, weights);
    assert_eq!(
        scene.rasterise(),
        render_graph(&m, &style),
        "the PNG is the scene"
    );
    // Thin lines first, so that strong weights are drawn on top.
    let widths: Vec<f32> = scene
        .shapes
        .iter()
        .filter_map(|(part, shape)| match shape {
            Shape::Line { width, .. } if *part == Part::Weight => Some(*width),
            _ => None,
        })
        .collect();
    assert!(widths.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn identity_connections_join_neuron_i_to_neuron_i_in_grey() {
    let mut m = model();
    m.neuron_layers.push(NeuronLayerFile::line("skip", 4, 3.0));
    m.connections.push(ConnectionFile {
        kind: ConnectionKind::Identity,
        ..ConnectionFile::plain(1, 3, Vec::new())
    });
    let style = GraphStyle::default();
    let scene = graph_scene(&m, &style);
    // Each identity line's ends and colour.
    type Ends = ((f32, f32), (f32, f32), [u8; 4]);
    let identities: Vec<Ends> = scene
        .shapes
        .iter()
        .filter_map(|(part, shape)| match shape {
            Shape::Line {
                from, to, colour, ..
            } if *part == Part::Identity => Some((*from, *to, *colour)),
            _ => None,
        })
        .collect();
    assert_eq!(identities.len(), 4);
    for (from, to, colour) in &identities {
        assert!((from.0 - to.0).abs() < 1e-3, "neuron i above neuron i");
        assert!(colour[0] == colour[1] && colour[1] == colour[2], "grey");
    }
    let img = render_graph(&m, &style);
    let (from, to, _) = identities[0];
    // Halfway between "hidden" and "skip", level with "out'", where no weight passes.
    let p = img
        .get_pixel(from.0.round() as u32, ((from.1 + to.1) / 2.0) as u32)
        .0;
    assert!(p[0] == p[1] && p[1] == p[2] && p[0] < 240, "{p:?}");
}

/// Whether a pixel is dark (ink of text, ticks or axes).
fn dark(img: &RgbImage, x: u32, y: u32) -> bool {
    img.get_pixel(x, y).0.iter().all(|&v| v < 110)
}

/// The y axis: the leftmost column that is dark over at least half the picture's height.
fn y_axis(img: &RgbImage) -> u32 {
    (0..img.width())
        .find(|&x| {
            (0..img.height()).filter(|&y| dark(img, x, y)).count() > img.height() as usize / 2
        })
        .expect("a y axis")
}

/// Rows with a tick mark left of the y axis at `axis`, and dark text further left.
fn labelled_ticks(img: &RgbImage, axis: u32) -> Vec<u32> {
    (0..img.height())
        .filter(|&y| (axis - 3..axis).all(|x| dark(img, x, y)))
        .filter(|&y| (0..axis - 6).any(|x| (y.saturating_sub(3)..y + 4).any(|yy| dark(img, x, yy))))
        .collect()
}

#[test]
fn line_charts_have_ticks_labels_and_titles() {
    let plot = LinePlot {
        title: "t".into(),
        x_label: "step".into(),
        y_label: "loss".into(),
        log_y: true,
        series: vec![Series {
            name: "train".into(),
            x: vec![],
            y: (0..100).map(|i| 10f64.powf(-(i as f64) / 25.0)).collect(),
        }],
        ..LinePlot::default()
    };
    let img = render_line_chart(&plot, (500, 400));
    assert_eq!(img.dimensions(), (500, 400));
    let axis = y_axis(&img);
    let ticks = labelled_ticks(&img, axis);
    // Four decades: 10⁻³ … 1 (runs of adjacent rows count once).
    let distinct = ticks.windows(2).filter(|w| w[1] > w[0] + 1).count() + 1;
    assert!((4..=5).contains(&distinct), "{ticks:?}");
    // The y axis title, left of the tick labels.
    assert!((0..12).any(|x| (0..400).any(|y| dark(&img, x, y))));
    // Tick labels under the x axis.
    let bottom = (0..img.height())
        .rev()
        .find(|&y| (axis..axis + 100).all(|x| dark(&img, x, y)));
    let bottom = bottom.expect("an x axis");
    assert!((axis..500).any(|x| (bottom + 8..bottom + 22).any(|y| dark(&img, x, y))));
}

#[test]
fn line_plot_is_a_line_chart_against_the_index() {
    let series = vec![
        ("a".to_string(), vec![3.0, 1.0, 2.0]),
        ("b".to_string(), vec![0.5]),
    ];
    let plot = LinePlot {
        title: "w".into(),
        x_label: "index".into(),
        y_label: "value".into(),
        series: series
            .iter()
            .map(|(name, y)| Series {
                name: name.clone(),
                x: vec![],
                y: y.clone(),
            })
            .collect(),
        ..LinePlot::default()
    };
    let img = render_line_plot(&series, "w", (400, 300));
    assert_eq!(img, render_line_chart(&plot, (400, 300)));
    let other = LinePlot {
        y_label: "other".into(),
        ..plot
    };
    assert_ne!(
        img,
        render_line_chart(&other, (400, 300)),
        "axis titles are drawn"
    );
}

#[test]
fn curves_survive_zeros_nans_and_ragged_lengths() {
    let curves = Curves {
        steps: (0..50).map(|s| s as f64 * 10.0).collect(),
        train_loss: (0..50)
            .map(|s| {
                if s % 7 == 0 {
                    0.0
                } else {
                    1.0 / (s as f64 + 1.0)
                }
            })
            .collect(),
        test_loss: vec![f64::NAN; 20],
        connection_cost: vec![-1.0, 0.0, f64::INFINITY],
        lambda: vec![0.0; 50],
    };
    for size in [(900, 300), (120, 60), (0, 0)] {
        let img = render_curves(&curves, size);
        assert_eq!(img.dimensions(), (size.0.max(1), size.1.max(1)));
    }
    let img = render_curves(&curves, (900, 300));
    let inked = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    assert!(inked > 2000, "axes, labels and curves: {inked}");
    // The training loss is drawn in tab:blue.
    let blue = img
        .pixels()
        .filter(|p| (p.0[0] as i32 - 31).abs() < 20 && (p.0[2] as i32 - 180).abs() < 20)
        .count();
    assert!(blue > 50, "{blue}");
    let empty = render_curves(&Curves::default(), (600, 200));
    assert_eq!(empty.dimensions(), (600, 200));
}
