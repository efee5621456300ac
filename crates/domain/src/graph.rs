//! Dependency-graph rules.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

/// Would adding the edge `from → to` ("`from` depends on `to`") to `edges` close a cycle?
///
/// Returns the cycle as a list of component ids starting and ending with `from`
/// (`[from, to, ..., from]`), or `None` when the edge is safe. A self-edge is a cycle of one.
pub fn find_cycle(edges: &[(Uuid, Uuid)], from: Uuid, to: Uuid) -> Option<Vec<Uuid>> {
    if from == to {
        return Some(vec![from, from]);
    }
    let mut next: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (a, b) in edges {
        next.entry(*a).or_default().push(*b);
    }
    // Depth-first search from `to` looking for `from`, remembering how we got to each node.
    let mut came_from: HashMap<Uuid, Uuid> = HashMap::new();
    let mut seen: HashSet<Uuid> = HashSet::from([to]);
    let mut stack = vec![to];
    while let Some(node) = stack.pop() {
        if node == from {
            let mut path = vec![from];
            let mut cur = from;
            while let Some(prev) = came_from.get(&cur) {
                path.push(*prev);
                cur = *prev;
            }
            // `path` runs from `from` back to `to`; the cycle reads from → to → ... → from.
            path.reverse();
            path.insert(0, from);
            return Some(path);
        }
        for n in next.get(&node).into_iter().flatten() {
            if seen.insert(*n) {
                came_from.insert(*n, node);
                stack.push(*n);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|_| Uuid::new_v4()).collect()
    }

    #[test]
    fn detects_a_cycle_and_names_it_in_order() {
        let v = ids(3);
        // a → b → c; adding c → a closes c → a → b → c.
        let edges = [(v[0], v[1]), (v[1], v[2])];
        assert_eq!(
            find_cycle(&edges, v[2], v[0]),
            Some(vec![v[2], v[0], v[1], v[2]])
        );
    }

    #[test]
    fn allows_a_diamond() {
        let v = ids(4);
        let edges = [(v[0], v[1]), (v[0], v[2]), (v[1], v[3])];
        assert_eq!(find_cycle(&edges, v[2], v[3]), None);
    }

    #[test]
    fn self_edge_is_a_cycle() {
        let v = ids(1);
        assert_eq!(find_cycle(&[], v[0], v[0]), Some(vec![v[0], v[0]]));
    }
}
