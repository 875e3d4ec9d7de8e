//! numpy's pairwise summation, by whole lists or leaf by leaf, and the means and variances
//! built on it: the summation kernels every figure goes through, so that sums match the
//! reference to the bit.

/// The most returns in a leaf of numpy's pairwise summation.
pub(super) const LEAF_MAX: usize = 128;

/// The leaves of numpy's pairwise summation of `n` values from `start`, in order: ranges of
/// at most [`LEAF_MAX`] values summed one after another (see [`pairwise_by`]).
pub(super) fn pairwise_leaves(start: usize, n: usize, out: &mut Vec<(usize, usize)>) {
    if n <= LEAF_MAX {
        if n > 0 || out.is_empty() {
            out.push((start, n));
        }
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_leaves(start, n2, out);
        pairwise_leaves(start + n2, n - n2, out);
    }
}

/// The sum of one leaf (at most [`LEAF_MAX`] values), as numpy sums it: [`pairwise_by`]'s
/// leaf over a slice, in whole blocks of eight (no index to check, so the eight running
/// sums are added as vectors).
// Inline always: called leaf by leaf from the pass, in another module, and built into its
// AVX2 build (`crate::wide`).
#[inline(always)]
pub(super) fn leaf_sum(v: &[f64]) -> f64 {
    debug_assert!(v.len() <= LEAF_MAX);
    let Some((head, rest)) = v.split_first_chunk::<8>() else {
        return v.iter().fold(0.0, |acc, &x| acc + x);
    };
    let mut r = *head;
    let mut blocks = rest.chunks_exact(8);
    for block in &mut blocks {
        for (rj, &x) in r.iter_mut().zip(block) {
            *rj += x;
        }
    }
    let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for &x in blocks.remainder() {
        res += x;
    }
    res
}

/// Adds up the leaf sums of [`pairwise_leaves`] of `n` values the way the pairwise recursion
/// does, taking them from `leaves` in order.
pub(super) fn combine_leaves<const K: usize>(
    n: usize,
    leaves: &mut impl Iterator<Item = [f64; K]>,
) -> [f64; K] {
    if n <= LEAF_MAX {
        leaves.next().unwrap_or([0.0; K])
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        let a = combine_leaves(n2, leaves);
        let b = combine_leaves(n - n2, leaves);
        std::array::from_fn(|k| a[k] + b[k])
    }
}

/// numpy's pairwise summation (`np.sum` of a contiguous float64 array), so that sums match
/// the reference to the bit.
pub(super) fn pairwise_sum(a: &[f64]) -> f64 {
    pairwise_by(0, a.len(), &|i| a[i])
}

/// [`pairwise_sum`] of `f(start), ..., f(start + n - 1)` without storing the values.
// Inline: the kernel of every sum, called from the other modules of `stats`.
#[inline]
pub(super) fn pairwise_by(start: usize, n: usize, f: &impl Fn(usize) -> f64) -> f64 {
    if n < 8 {
        (start..start + n).fold(0.0, |acc, i| acc + f(i))
    } else if n <= 128 {
        let mut r: [f64; 8] = std::array::from_fn(|j| f(start + j));
        let full = n - n % 8;
        let mut i = 8;
        while i < full {
            for (j, rj) in r.iter_mut().enumerate() {
                *rj += f(start + i + j);
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for i in full..n {
            res += f(start + i);
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_by(start, n2, f) + pairwise_by(start + n2, n - n2, f)
    }
}

/// Mean as numpy and pandas compute it; NaN for no values.
pub(super) fn mean(a: &[f64]) -> f64 {
    mean_of(a.len(), &|i| a[i])
}

/// [`mean`] of `f(0), ..., f(n - 1)`.
pub(super) fn mean_of(n: usize, f: &impl Fn(usize) -> f64) -> f64 {
    pairwise_by(0, n, f) / n as f64
}

/// Sample variance (ddof 1), two-pass as pandas computes it; NaN below two values.
pub(super) fn variance(a: &[f64]) -> f64 {
    variance_of(a.len(), &|i| a[i])
}

/// [`variance`] of `f(0), ..., f(n - 1)`.
pub(super) fn variance_of(n: usize, f: &impl Fn(usize) -> f64) -> f64 {
    if n < 2 {
        return f64::NAN;
    }
    let avg = mean_of(n, f);
    pairwise_by(0, n, &|i| (avg - f(i)) * (avg - f(i))) / (n - 1) as f64
}

/// Geometric mean return: 0 if any `1 + r <= 0`, NaN for no values.
pub(super) fn geometric_mean(returns: &[f64]) -> f64 {
    geometric_mean_of(returns.len(), &|i| returns[i])
}

/// [`geometric_mean`] of the returns `r(0), ..., r(n - 1)`.
pub(super) fn geometric_mean_of(n: usize, r: &impl Fn(usize) -> f64) -> f64 {
    if (0..n).any(|i| r(i) + 1.0 <= 0.0) {
        return 0.0;
    }
    // ln(1) is exactly 0: flat periods (no position, no change) cost no logarithm.
    let logs = pairwise_by(0, n, &|i| {
        let g = r(i) + 1.0;
        if g == 1.0 { 0.0 } else { g.ln() }
    });
    (logs / n as f64).exp() - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::walk;

    #[test]
    fn leaf_sums_add_in_pairwise_order_to_the_bit() {
        // Values of mixed magnitudes and signs, so that any other order of the additions
        // rounds differently somewhere.
        let v: Vec<f64> = walk(LEAF_MAX, 0.9)
            .iter()
            .enumerate()
            .map(|(i, x)| (x - 100.0) * 10f64.powi((i % 7) as i32 * 3 - 9))
            .collect();
        let mut differs = 0;
        for n in 0..=LEAF_MAX {
            let v = &v[..n];
            let sum = leaf_sum(v);
            assert_eq!(
                sum.to_bits(),
                pairwise_by(0, n, &|i| v[i]).to_bits(),
                "{n} values"
            );
            differs += usize::from(sum != v.iter().sum::<f64>());
        }
        assert!(
            differs > 50,
            "only {differs} sums differ from one left to right"
        );
    }

    #[test]
    fn pairwise_matches_plain_sum_on_exact_values() {
        let a: Vec<f64> = (0..1000).map(f64::from).collect();
        assert_eq!(pairwise_sum(&a), 499_500.0);
        assert_eq!(pairwise_sum(&a[..13]), 78.0);
        assert_eq!(pairwise_sum(&[]), 0.0);
    }

    #[test]
    fn leaves_add_up_as_the_pairwise_recursion() {
        let v = walk(10_000, 0.3);
        for n in [0, 1, 5, 8, 100, 128, 129, 1_000, 9_999] {
            let mut leaves = Vec::new();
            pairwise_leaves(0, n, &mut leaves);
            assert!(leaves.iter().all(|&(_, len)| len <= LEAF_MAX));
            assert_eq!(leaves.iter().map(|&(_, len)| len).sum::<usize>(), n);
            let mut sums = leaves.iter().map(|&(s, len)| [leaf_sum(&v[s..s + len])]);
            let [total] = combine_leaves(n, &mut sums);
            assert_eq!(total.to_bits(), pairwise_sum(&v[..n]).to_bits(), "{n}");
        }
    }
}
