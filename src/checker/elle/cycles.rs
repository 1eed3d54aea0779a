//! Cycles in the dependency graph, and the anomaly each one is (Adya's G0, G1c,
//! G-single, G-nonadjacent, G2, with Elle's `-item`, `-process` and `-realtime` names).
//!
//! The graph's strongly connected components are found first (Tarjan's algorithm, in
//! linear time); only inside a component of two or more transactions can a cycle be.
//! For each anomaly class, the search takes each edge of the kind the class needs (its
//! *start*: a ww edge for G0, wr for G1c, rw for the G-single family, a process or
//! real-time edge for the variants) and looks breadth-first for the shortest way back
//! over the edges the class allows, tracking what the path has used (how many rw edges,
//! whether the last was rw, whether a wr, process or real-time edge was taken); the
//! class accepts or rejects the cycle found. Classes are disjoint: a cycle of ww edges
//! alone is G0 and not G1c, one rw edge makes G-single-item, two or more G2-item unless
//! no two are adjacent (G-nonadjacent-item), and a variant needs its process or
//! real-time edge.

use super::infer::{Graph, Why, PROCESS, REALTIME, RW, WR, WW};
use std::collections::VecDeque;

/// One anomaly class: the edges its cycles may use, the edge they must start with, and
/// what the whole cycle must have used.
struct Class {
    name: &'static str,
    allowed: u8,
    start: u8,
    accept: fn(&Used) -> bool,
}

/// What a path has used so far.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
struct Used {
    /// rw edges: 0, 1, or 2 for two or more.
    rw: u8,
    last_rw: bool,
    /// Two rw edges in a row (counting the wrap from the last edge to the first).
    adjacent_rw: bool,
    wr: bool,
    process: bool,
    realtime: bool,
}

impl Used {
    fn index(&self) -> usize {
        (self.rw as usize)
            | (self.last_rw as usize) << 2
            | (self.adjacent_rw as usize) << 3
            | (self.wr as usize) << 4
            | (self.process as usize) << 5
            | (self.realtime as usize) << 6
    }

    fn after(mut self, kind: u8) -> Used {
        let rw = kind == RW;
        if rw {
            if self.last_rw {
                self.adjacent_rw = true;
            }
            self.rw = (self.rw + 1).min(2);
        }
        self.last_rw = rw;
        self.wr |= kind == WR;
        self.process |= kind == PROCESS;
        self.realtime |= kind == REALTIME;
        self
    }
}

const STATES: usize = 128;
const DATA: u8 = WW | WR | RW;

fn plain(u: &Used) -> bool {
    !u.process && !u.realtime
}
fn process(u: &Used) -> bool {
    u.process && !u.realtime
}
fn realtime(u: &Used) -> bool {
    u.realtime
}
fn g1c(u: &Used) -> bool {
    u.rw == 0 && u.wr
}
fn single(u: &Used) -> bool {
    u.rw == 1
}
fn nonadjacent(u: &Used) -> bool {
    u.rw == 2 && !u.adjacent_rw
}
fn g2(u: &Used) -> bool {
    u.rw == 2 && u.adjacent_rw
}

/// The classes, most severe first (as Elle orders them).
const CLASSES: &[Class] = &[
    Class {
        name: "G0",
        allowed: WW,
        start: WW,
        accept: plain,
    },
    Class {
        name: "G1c",
        allowed: WW | WR,
        start: WR,
        accept: |u| plain(u) && g1c(u),
    },
    Class {
        name: "G-single-item",
        allowed: DATA,
        start: RW,
        accept: |u| plain(u) && single(u),
    },
    Class {
        name: "G-nonadjacent-item",
        allowed: DATA,
        start: RW,
        accept: |u| plain(u) && nonadjacent(u),
    },
    Class {
        name: "G2-item",
        allowed: DATA,
        start: RW,
        accept: |u| plain(u) && g2(u),
    },
    Class {
        name: "G0-process",
        allowed: WW | PROCESS,
        start: PROCESS,
        accept: process,
    },
    Class {
        name: "G1c-process",
        allowed: WW | WR | PROCESS,
        start: PROCESS,
        accept: |u| process(u) && g1c(u),
    },
    Class {
        name: "G-single-item-process",
        allowed: DATA | PROCESS,
        start: PROCESS,
        accept: |u| process(u) && single(u),
    },
    Class {
        name: "G-nonadjacent-item-process",
        allowed: DATA | PROCESS,
        start: PROCESS,
        accept: |u| process(u) && nonadjacent(u),
    },
    Class {
        name: "G2-item-process",
        allowed: DATA | PROCESS,
        start: PROCESS,
        accept: |u| process(u) && g2(u),
    },
    Class {
        name: "G0-realtime",
        allowed: WW | PROCESS | REALTIME,
        start: REALTIME,
        accept: |u| realtime(u) && u.rw == 0 && !u.wr,
    },
    Class {
        name: "G1c-realtime",
        allowed: WW | WR | PROCESS | REALTIME,
        start: REALTIME,
        accept: |u| realtime(u) && g1c(u),
    },
    Class {
        name: "G-single-item-realtime",
        allowed: DATA | PROCESS | REALTIME,
        start: REALTIME,
        accept: |u| realtime(u) && single(u),
    },
    Class {
        name: "G-nonadjacent-item-realtime",
        allowed: DATA | PROCESS | REALTIME,
        start: REALTIME,
        accept: |u| realtime(u) && nonadjacent(u),
    },
    Class {
        name: "G2-item-realtime",
        allowed: DATA | PROCESS | REALTIME,
        start: REALTIME,
        accept: |u| realtime(u) && g2(u),
    },
];

/// The names of every cycle class, in report order.
pub fn class_names() -> impl Iterator<Item = &'static str> {
    CLASSES.iter().map(|c| c.name)
}

/// A cycle found: the anomaly, and its steps (from, to, why) in order, back to the start.
pub struct Cycle {
    pub anomaly: &'static str,
    pub steps: Vec<(u32, u32, Why)>,
}

/// Adjacency in compressed rows; parallel edges between two transactions keep each why.
struct Adjacency {
    start: Vec<usize>,
    /// (to, edge index into the graph).
    targets: Vec<(u32, u32)>,
}

fn adjacency(nodes: usize, graph: &Graph) -> Adjacency {
    let mut start = vec![0usize; nodes + 1];
    for (from, _, _) in &graph.edges {
        start[*from as usize + 1] += 1;
    }
    for i in 0..nodes {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut targets = vec![(0u32, 0u32); graph.edges.len()];
    for (e, (from, to, _)) in graph.edges.iter().enumerate() {
        targets[fill[*from as usize]] = (*to, e as u32);
        fill[*from as usize] += 1;
    }
    Adjacency { start, targets }
}

/// Strongly connected components of two or more nodes (Tarjan, iterative).
fn components(nodes: usize, adj: &Adjacency) -> Vec<u32> {
    const NONE: u32 = u32::MAX;
    let mut index = vec![NONE; nodes];
    let mut low = vec![0u32; nodes];
    let mut on_stack = vec![false; nodes];
    let mut component = vec![NONE; nodes];
    let mut stack: Vec<u32> = Vec::new();
    let mut next_index = 0u32;
    let mut count = 0u32;
    let mut sizes: Vec<u32> = Vec::new();
    for root in 0..nodes {
        if index[root] != NONE {
            continue;
        }
        // (node, position in its edge list)
        let mut calls: Vec<(u32, usize)> = vec![(root as u32, adj.start[root])];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root as u32);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut pos)) = calls.last_mut() {
            let vu = v as usize;
            if *pos < adj.start[vu + 1] {
                let (w, _) = adj.targets[*pos];
                *pos += 1;
                let wu = w as usize;
                if index[wu] == NONE {
                    index[wu] = next_index;
                    low[wu] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[wu] = true;
                    calls.push((w, adj.start[wu]));
                } else if on_stack[wu] {
                    low[vu] = low[vu].min(index[wu]);
                }
            } else {
                calls.pop();
                if let Some(&(parent, _)) = calls.last() {
                    let p = parent as usize;
                    low[p] = low[p].min(low[vu]);
                }
                if low[vu] == index[vu] {
                    let mut size = 0;
                    loop {
                        let w = stack.pop().expect("the component's nodes are stacked");
                        on_stack[w as usize] = false;
                        component[w as usize] = count;
                        size += 1;
                        if w == v {
                            break;
                        }
                    }
                    sizes.push(size);
                    count += 1;
                }
            }
        }
    }
    // Singletons are no cycle (the graph has no self-edges).
    component
        .into_iter()
        .map(|c| if sizes[c as usize] > 1 { c } else { NONE })
        .collect()
}

/// At most this many start edges are tried per class and component: enough to find a
/// cycle where one exists in practice, and a bound on the time a huge component takes.
const STARTS_PER_CLASS: usize = 64;

/// One shortest cycle of each class that the graph has, per strongly connected component.
pub fn find(nodes: usize, graph: &Graph) -> Vec<Cycle> {
    let adj = adjacency(nodes, graph);
    let component = components(nodes, &adj);
    let mut members: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
    for (v, c) in component.iter().enumerate() {
        if *c != u32::MAX {
            members.entry(*c).or_default().push(v as u32);
        }
    }
    let mut cycles = Vec::new();
    for nodes_of in members.values() {
        let comp = component[nodes_of[0] as usize];
        for class in CLASSES {
            let mut tried = 0;
            'starts: for &a in nodes_of {
                let au = a as usize;
                for &(b, e) in &adj.targets[adj.start[au]..adj.start[au + 1]] {
                    let kind = graph.edges[e as usize].2.kind;
                    if kind != class.start || component[b as usize] != comp {
                        continue;
                    }
                    tried += 1;
                    if let Some(path) = shortest_back(&adj, graph, &component, comp, class, a, b, e)
                    {
                        cycles.push(Cycle {
                            anomaly: class.name,
                            steps: path
                                .into_iter()
                                .map(|e| graph.edges[e as usize].clone())
                                .collect(),
                        });
                        break 'starts;
                    }
                    if tried >= STARTS_PER_CLASS {
                        break 'starts;
                    }
                }
            }
        }
    }
    cycles
}

/// The shortest cycle of `class` that starts with edge `first` (a -> b): edge indices.
#[allow(clippy::too_many_arguments)]
fn shortest_back(
    adj: &Adjacency,
    graph: &Graph,
    component: &[u32],
    comp: u32,
    class: &Class,
    a: u32,
    b: u32,
    first: u32,
) -> Option<Vec<u32>> {
    let start = Used::default().after(graph.edges[first as usize].2.kind);
    // Visited (node, used) states, with the edge that reached them.
    let mut came: hashbrown::HashMap<(u32, usize), (u32, usize, u32)> = Default::default();
    let mut queue: VecDeque<(u32, Used)> = VecDeque::new();
    queue.push_back((b, start));
    came.insert((b, start.index()), (u32::MAX, 0, first));
    while let Some((v, used)) = queue.pop_front() {
        let vu = v as usize;
        for &(w, e) in &adj.targets[adj.start[vu]..adj.start[vu + 1]] {
            let kind = graph.edges[e as usize].2.kind;
            if kind & class.allowed == 0 || component[w as usize] != comp {
                continue;
            }
            let mut next = used.after(kind);
            if w == a {
                // Closing the cycle: the last edge meets the first (an rw start).
                if next.last_rw && start.last_rw {
                    next.adjacent_rw = true;
                }
                if (class.accept)(&next) {
                    let mut path = vec![e];
                    let mut at = (v, used.index());
                    loop {
                        let &(prev, prev_state, edge) = came.get(&at).expect("reached");
                        path.push(edge);
                        if prev == u32::MAX {
                            break;
                        }
                        at = (prev, prev_state);
                    }
                    path.reverse();
                    return Some(path);
                }
                continue;
            }
            let key = (w, next.index());
            if next.index() < STATES && !came.contains_key(&key) {
                came.insert(key, (v, used.index(), e));
                queue.push_back((w, next));
            }
        }
    }
    None
}
