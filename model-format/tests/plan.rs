//! The offline arena planner: every plan is valid, never worse than TFLM's greedy planner, and
//! never better than the peak-live lower bound.
#![cfg(feature = "std")]

use doppler_model_format::plan::{self, greedy_by_size, is_valid, lower_bound, Buffer, Plan};
use doppler_model_format::ALIGN;
use proptest::prelude::*;

fn buf(size: usize, first: u32, last: u32) -> Buffer {
    Buffer { size, first, last }
}

fn aligned(size: usize) -> usize {
    size.div_ceil(ALIGN) * ALIGN
}

fn buffers() -> impl Strategy<Value = Vec<Buffer>> {
    let one = (1usize..100_000, 0u32..40, 0u32..40).prop_map(|(size, a, b)| buf(size, a.min(b), a.max(b)));
    prop::collection::vec(one, 0..40)
}

/// Small sizes and short lifetimes: many collisions, where orderings differ the most.
fn dense_buffers() -> impl Strategy<Value = Vec<Buffer>> {
    let one = (1usize..200, 0u32..8, 0u32..3).prop_map(|(size, first, len)| buf(size, first, first + len));
    prop::collection::vec(one, 1..16)
}

fn check(bufs: &[Buffer]) -> Result<(), TestCaseError> {
    let best = plan::plan(bufs);
    let greedy = greedy_by_size(bufs);
    let lb = lower_bound(bufs);
    prop_assert_eq!(best.offsets.len(), bufs.len());
    prop_assert!(is_valid(bufs, &best), "plan invalid: {:?}", best);
    prop_assert!(is_valid(bufs, &greedy), "greedy invalid: {:?}", greedy);
    prop_assert!(best.arena_bytes <= greedy.arena_bytes);
    prop_assert!(lb <= best.arena_bytes);
    // Offsets aligned; the arena is exactly as large as the highest buffer end.
    prop_assert!(best.offsets.iter().all(|o| o % ALIGN == 0));
    let top = bufs.iter().zip(&best.offsets).map(|(b, o)| o + aligned(b.size)).max().unwrap_or(0);
    prop_assert_eq!(top, best.arena_bytes);
    // The bound lies between the largest buffer and the sum of all.
    let largest = bufs.iter().map(|b| aligned(b.size)).max().unwrap_or(0);
    let sum: usize = bufs.iter().map(|b| aligned(b.size)).sum();
    prop_assert!(largest <= lb && lb <= sum);
    prop_assert!(best.arena_bytes <= sum);
    // Deterministic.
    prop_assert_eq!(plan::plan(bufs), best);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_buffer_sets(bufs in buffers()) {
        check(&bufs)?;
    }

    #[test]
    fn dense_buffer_sets(bufs in dense_buffers()) {
        check(&bufs)?;
    }

    /// Buffers whose lifetimes never meet can all share offset 0.
    #[test]
    fn disjoint_lifetimes_share_one_slot(sizes in prop::collection::vec(1usize..5000, 1..20)) {
        let bufs: Vec<Buffer> = sizes.iter().enumerate().map(|(i, &s)| buf(s, i as u32, i as u32)).collect();
        let p = plan::plan(&bufs);
        let largest = sizes.iter().map(|&s| aligned(s)).max().unwrap();
        prop_assert_eq!(p.arena_bytes, largest);
        prop_assert_eq!(lower_bound(&bufs), largest);
    }

    /// Buffers all live at once need exactly the sum.
    #[test]
    fn simultaneous_buffers_need_the_sum(sizes in prop::collection::vec(1usize..5000, 1..20)) {
        let bufs: Vec<Buffer> = sizes.iter().map(|&s| buf(s, 0, 3)).collect();
        let sum: usize = sizes.iter().map(|&s| aligned(s)).sum();
        prop_assert_eq!(plan::plan(&bufs).arena_bytes, sum);
        prop_assert_eq!(greedy_by_size(&bufs).arena_bytes, sum);
        prop_assert_eq!(lower_bound(&bufs), sum);
    }
}

#[test]
fn empty_and_single() {
    assert_eq!(plan::plan(&[]).arena_bytes, 0);
    assert_eq!(lower_bound(&[]), 0);
    assert_eq!(greedy_by_size(&[]).arena_bytes, 0);
    for (size, want) in [(1usize, 16usize), (16, 16), (17, 32), (100, 112)] {
        let p = plan::plan(&[buf(size, 0, 1)]);
        assert_eq!((p.offsets.clone(), p.arena_bytes), (vec![0], want), "size {size}");
        assert_eq!(lower_bound(&[buf(size, 0, 1)]), want);
    }
}

#[test]
fn chain_of_equal_buffers_needs_two() {
    // a → b → c: each tensor is read by the op that writes the next one, so two neighbours are
    // live at once, but a and c never are.
    let bufs = [buf(100, 0, 1), buf(100, 1, 2), buf(100, 2, 3)];
    let p = plan::plan(&bufs);
    assert_eq!(p.arena_bytes, 2 * 112);
    assert_eq!(lower_bound(&bufs), 2 * 112);
    assert_eq!(greedy_by_size(&bufs).arena_bytes, 2 * 112);
    assert_eq!(p.offsets[0], p.offsets[2], "a and c share a slot");
    assert_ne!(p.offsets[0], p.offsets[1]);
    // A longer chain still needs two.
    let long: Vec<Buffer> = (0..20).map(|i| buf(64, i, i + 1)).collect();
    assert_eq!(plan::plan(&long).arena_bytes, 128);
}

#[test]
fn lifetimes_are_inclusive() {
    // Ending at the step where the other starts counts as meeting.
    let meet = [buf(16, 0, 2), buf(16, 2, 4)];
    assert_eq!(plan::plan(&meet).arena_bytes, 32);
    let apart = [buf(16, 0, 1), buf(16, 2, 4)];
    assert_eq!(plan::plan(&apart).arena_bytes, 16);
}

#[test]
fn best_plan_beats_greedy_strictly() {
    // (size, first, last). Greedy (largest first, first fit) puts both 64-byte buffers at 0,
    // which pushes the second 48-byte buffer to 112: 160 bytes. Placing by first use reaches
    // the lower bound of 112 (C 0..48, A 48..112, B 64..112, D 0..64).
    let bufs = [buf(64, 0, 0), buf(48, 2, 4), buf(48, 0, 2), buf(64, 3, 3)];
    assert_eq!(greedy_by_size(&bufs).arena_bytes, 160);
    let p = plan::plan(&bufs);
    assert_eq!(p.arena_bytes, 112);
    assert_eq!(lower_bound(&bufs), 112);
    assert!(is_valid(&bufs, &p));

    // Greedy: A(48)@0, B(48)@0, C(16)@48, D(16)@64 → 80. Optimal 64: C@0, A@16, B@0, D@48.
    let bufs = [buf(48, 1, 1), buf(48, 4, 4), buf(16, 1, 3), buf(16, 3, 4)];
    assert_eq!(greedy_by_size(&bufs).arena_bytes, 80);
    assert_eq!(plan::plan(&bufs).arena_bytes, 64);
    assert_eq!(lower_bound(&bufs), 64);

    // Another: greedy 112, best 96 = bound.
    let bufs = [buf(32, 3, 4), buf(48, 0, 2), buf(32, 2, 3), buf(64, 4, 5)];
    assert_eq!(greedy_by_size(&bufs).arena_bytes, 112);
    assert_eq!(plan::plan(&bufs).arena_bytes, 96);
    assert_eq!(lower_bound(&bufs), 96);
}

#[test]
fn greedy_matches_tflm_order() {
    // Largest first; ties by earliest first use; first fit in the gaps among buffers whose
    // lifetimes meet. Hand-traced: B(64)@0; A(32) meets B at step 1 → @64; C(32) meets A at
    // step 2 but not B → the gap at 0.
    let bufs = [buf(32, 1, 2), buf(64, 0, 1), buf(32, 2, 3)];
    let g = greedy_by_size(&bufs);
    assert_eq!(g.offsets, vec![64, 0, 0]);
    assert_eq!(g.arena_bytes, 96);
    assert_eq!(g.strategy, "greedy by size (TFLM)");
}

#[test]
fn is_valid_rejects_bad_plans() {
    let bufs = [buf(32, 0, 1), buf(32, 1, 2)];
    let plan_of = |offsets: Vec<usize>, arena_bytes: usize| Plan { offsets, arena_bytes, strategy: "test" };
    assert!(is_valid(&bufs, &plan_of(vec![0, 32], 64)));
    // Overlap of two live buffers.
    assert!(!is_valid(&bufs, &plan_of(vec![0, 16], 64)));
    assert!(!is_valid(&bufs, &plan_of(vec![0, 0], 64)));
    // Misaligned offset.
    assert!(!is_valid(&bufs, &plan_of(vec![0, 40], 80)));
    // Arena too small for the plan.
    assert!(!is_valid(&bufs, &plan_of(vec![0, 32], 63)));
    // Non-meeting buffers may share.
    let apart = [buf(32, 0, 0), buf(32, 1, 1)];
    assert!(is_valid(&apart, &plan_of(vec![0, 0], 32)));
}

#[test]
fn lower_bound_counts_aligned_sizes_per_step() {
    // Step 1: 17 (→32) + 1 (→16) = 48; step 3: 100 (→112).
    let bufs = [buf(17, 0, 1), buf(1, 1, 2), buf(100, 3, 3)];
    assert_eq!(lower_bound(&bufs), 112);
    let bufs = [buf(17, 0, 1), buf(1, 1, 2), buf(10, 3, 3)];
    assert_eq!(lower_bound(&bufs), 48);
}
