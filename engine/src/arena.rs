//! Splitting the arena around one op's writes, safely.
//!
//! The validator proved that an op's output and scratch do not overlap anything it reads, so
//! the arena can be cut into the mutable output, the mutable scratch, and up to three read-only
//! pieces around them. Reads that straddle a cut cannot happen for a valid blob and return
//! `None` rather than panic.

use core::ops::Range;

/// Read-only view of the arena outside the op's writes.
pub(crate) struct Reader<'x> {
    pieces: [(usize, &'x [u8]); 3],
}

impl<'x> Reader<'x> {
    pub(crate) fn get(&self, range: Range<usize>) -> Option<&'x [u8]> {
        self.pieces.iter().find_map(|&(base, piece)| {
            let start = range.start.checked_sub(base)?;
            piece.get(start..start.checked_add(range.len())?)
        })
    }
}

/// Cuts `arena` into (reader, output, scratch). `None` if the ranges overlap or exceed it.
pub(crate) fn split<'x>(
    arena: &'x mut [u8],
    out: Range<usize>,
    scratch: Option<Range<usize>>,
) -> Option<(Reader<'x>, &'x mut [u8], &'x mut [u8])> {
    let scratch = scratch.unwrap_or(out.end..out.end);
    let out_first = out.start <= scratch.start;
    let (a, b) = if out_first { (out.clone(), scratch) } else { (scratch, out.clone()) };
    if a.end > b.start || b.end > arena.len() {
        return None;
    }
    // `split_at_mut_checked`: a reversed range (start > end) cannot panic either.
    let (p0, rest) = arena.split_at_mut_checked(a.start)?;
    let (ma, rest) = rest.split_at_mut_checked(a.end.checked_sub(a.start)?)?;
    let (p1, rest) = rest.split_at_mut_checked(b.start.checked_sub(a.end)?)?;
    let (mb, p2) = rest.split_at_mut_checked(b.end.checked_sub(b.start)?)?;
    let reader = Reader { pieces: [(0, &*p0), (a.end, &*p1), (b.end, &*p2)] };
    Some(if out_first { (reader, ma, mb) } else { (reader, mb, ma) })
}
