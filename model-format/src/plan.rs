//! Offline arena planning: give every activation (and per-op scratch) an offset in one arena so
//! that no two buffers live at the same time share bytes, using as few bytes as possible.
//!
//! The baseline is TFLM's `GreedyMemoryPlanner` (largest first, first fit among buffers whose
//! lifetimes intersect). [`plan`] runs that and a few other orderings and gap rules and keeps the
//! smallest, so it is never worse than the baseline by construction. [`lower_bound`] (the most
//! bytes live at one time step) is what no plan can beat.

use std::vec;
use std::vec::Vec;

use crate::layout::ALIGN;

/// One buffer to place: `size` bytes live from step `first` to step `last` inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffer {
    pub size: usize,
    pub first: u32,
    pub last: u32,
}

impl Buffer {
    fn aligned(&self) -> usize {
        self.size.div_ceil(ALIGN) * ALIGN
    }
    fn meets(&self, o: &Buffer) -> bool {
        self.first <= o.last && o.first <= self.last
    }
}

/// Offsets (16-byte aligned, one per buffer, in input order) and the arena size they need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub offsets: Vec<usize>,
    pub arena_bytes: usize,
    /// Which strategy won (for `inspect`).
    pub strategy: &'static str,
}

/// The most bytes (16-byte aligned sizes) live at any one step: no plan can use fewer.
pub fn lower_bound(bufs: &[Buffer]) -> usize {
    let steps = bufs.iter().map(|b| b.last).max().unwrap_or(0);
    (0..=steps)
        .map(|s| bufs.iter().filter(|b| b.first <= s && s <= b.last).map(Buffer::aligned).sum())
        .max()
        .unwrap_or(0)
}

#[derive(Clone, Copy)]
enum Fit {
    First,
    Best,
}

/// Places buffers in `order`, each at the lowest (first fit) or tightest (best fit) gap among the
/// already placed buffers whose lifetimes intersect its own.
fn place(bufs: &[Buffer], order: &[usize], fit: Fit, strategy: &'static str) -> Plan {
    let mut offsets = vec![usize::MAX; bufs.len()];
    let mut arena = 0;
    for &i in order {
        let b = &bufs[i];
        let mut busy: Vec<(usize, usize)> = order
            .iter()
            .filter(|&&j| offsets[j] != usize::MAX && bufs[j].meets(b))
            .map(|&j| (offsets[j], offsets[j] + bufs[j].aligned()))
            .collect();
        busy.sort_unstable();
        let need = b.aligned();
        let mut cursor = 0;
        let mut chosen: Option<(usize, usize)> = None; // (offset, gap size)
        for &(start, end) in &busy {
            if start >= cursor + need {
                let gap = start - cursor;
                match fit {
                    Fit::First => {
                        chosen = Some((cursor, gap));
                        break;
                    }
                    Fit::Best => {
                        if chosen.is_none_or(|(_, g)| gap < g) {
                            chosen = Some((cursor, gap));
                        }
                    }
                }
            }
            cursor = cursor.max(end);
        }
        let offset = chosen.map_or(cursor, |(o, _)| o);
        offsets[i] = offset;
        arena = arena.max(offset + need);
    }
    Plan { offsets, arena_bytes: arena, strategy }
}

/// TFLM's greedy planner: largest first (ties: earliest first use), first fit.
pub fn greedy_by_size(bufs: &[Buffer]) -> Plan {
    let mut order: Vec<usize> = (0..bufs.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(bufs[i].aligned()), bufs[i].first, i));
    place(bufs, &order, Fit::First, "greedy by size (TFLM)")
}

/// The best of several orderings × {first fit, best fit}; never worse than [`greedy_by_size`].
pub fn plan(bufs: &[Buffer]) -> Plan {
    use std::cmp::Reverse;
    let mut best = greedy_by_size(bufs);
    let span = |b: &Buffer| (b.last - b.first + 1) as usize;
    let orders: [(&'static str, Vec<usize>); 3] = [
        ("size × lifetime", sorted(bufs, |i, b| (Reverse(b.aligned() * span(b)), i))),
        ("lifetime, then size", sorted(bufs, |i, b| (Reverse(span(b)), Reverse(b.aligned()), i))),
        ("first use, then size", sorted(bufs, |i, b| (b.first as usize, Reverse(b.aligned()), i))),
    ];
    let by_size = sorted(bufs, |i, b| (Reverse(b.aligned()), b.first as usize, i));
    let mut candidates = vec![place(bufs, &by_size, Fit::Best, "size, best fit")];
    for (name, order) in &orders {
        candidates.push(place(bufs, order, Fit::First, name));
        candidates.push(place(bufs, order, Fit::Best, name));
    }
    for c in candidates {
        if c.arena_bytes < best.arena_bytes {
            best = c;
        }
    }
    best
}

fn sorted<K: Ord>(bufs: &[Buffer], key: impl Fn(usize, &Buffer) -> K) -> Vec<usize> {
    let mut order: Vec<usize> = (0..bufs.len()).collect();
    order.sort_by_key(|&i| key(i, &bufs[i]));
    order
}

/// True if no two buffers that live at the same time overlap in `plan`.
pub fn is_valid(bufs: &[Buffer], plan: &Plan) -> bool {
    bufs.iter().enumerate().all(|(i, a)| {
        let (oa, ea) = (plan.offsets[i], plan.offsets[i] + a.aligned());
        oa % ALIGN == 0
            && ea <= plan.arena_bytes
            && bufs.iter().enumerate().skip(i + 1).all(|(j, b)| {
                let (ob, eb) = (plan.offsets[j], plan.offsets[j] + b.aligned());
                !a.meets(b) || ea <= ob || eb <= oa
            })
    })
}
