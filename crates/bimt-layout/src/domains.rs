//! The domains identity edges imply: both ends of an identity edge share one permutation.

use crate::layout::{Connection, Domain, DomainId, LayerId, LayoutError, NeuronLayer};
use petgraph::graph::DiGraph;

/// Puts the two ends of every identity edge into one domain: a layer in no declared domain
/// joins its partner's, and layers in no declared domain at all form one new domain (named
/// after its layers, `a+b`). Two declared domains joined by an identity edge are refused.
pub(crate) fn derive_identity_domains(
    graph: &DiGraph<NeuronLayer, Connection>,
    identities: &[(LayerId, LayerId)],
    domains: &mut Vec<Domain>,
    domain_of: &mut [DomainId],
) -> Result<(), LayoutError> {
    let exists = |l: LayerId| graph.node_weight(l).is_some();
    for &(a, b) in identities {
        if !exists(a) || !exists(b) {
            return Err(LayoutError(format!(
                "an identity edge names layer #{}, which does not exist",
                if exists(a) { b.index() } else { a.index() }
            )));
        }
        if graph[a].size != graph[b].size {
            return Err(LayoutError(format!(
                "identity edge {} -> {}: the layers have {} and {} neurons; an identity edge \
                 needs equal sizes",
                graph[a].name, graph[b].name, graph[a].size, graph[b].size
            )));
        }
    }
    // Union-find over layers; each class keeps the declared domain it holds, if any.
    let n = graph.node_count();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for l in 0..n {
        if domain_of[l] != usize::MAX {
            let first = domains[domain_of[l]].layers[0].index();
            let (a, b) = (root(&mut parent, l), root(&mut parent, first));
            parent[a] = b;
        }
    }
    for &(a, b) in identities {
        let (ra, rb) = (root(&mut parent, a.index()), root(&mut parent, b.index()));
        let declared = |r: usize, domain_of: &[DomainId], parent: &mut [usize]| {
            (0..n).find(|&l| domain_of[l] != usize::MAX && root(parent, l) == r)
        };
        if let (Some(da), Some(db)) = (
            declared(ra, domain_of, &mut parent),
            declared(rb, domain_of, &mut parent),
        ) && domain_of[da] != domain_of[db]
        {
            return Err(LayoutError(format!(
                "identity edge {} -> {}: its ends must share one permutation, but they are in \
                 the domains '{}' and '{}'; put both layers in one domain",
                graph[a].name,
                graph[b].name,
                domains[domain_of[da]].name,
                domains[domain_of[db]].name
            )));
        }
        parent[ra] = rb;
    }
    let mut class_domain: std::collections::HashMap<usize, DomainId> = Default::default();
    for (l, &d) in domain_of.iter().enumerate() {
        if d != usize::MAX {
            class_domain.insert(root(&mut parent, l), d);
        }
    }
    for l in graph.node_indices() {
        if domain_of[l.index()] != usize::MAX {
            continue;
        }
        let r = root(&mut parent, l.index());
        let d = *class_domain.entry(r).or_insert_with(|| {
            domains.push(Domain {
                name: String::new(),
                layers: Vec::new(),
                block: None,
                fixed: false,
                extra_axes: Vec::new(),
            });
            domains.len() - 1
        });
        domains[d].layers.push(l);
        domain_of[l.index()] = d;
    }
    for domain in domains.iter_mut().filter(|d| d.name.is_empty()) {
        domain.name = domain
            .layers
            .iter()
            .map(|&l| graph[l].name.as_str())
            .collect::<Vec<_>>()
            .join("+");
    }
    Ok(())
}
