//! Beta of the equity's log returns on the asset's, from sums taken a leaf at a time, and
//! the logarithms of ratios it takes them from.

/// Beta of equity log returns on the asset's close log returns (their sample covariance over
/// the asset's sample variance), from running sums of `x - kx`, `y - ky`, their product and
/// `(y - ky)^2`, a leaf at a time: shifted by the first log returns, so no cancellation when
/// the mean is large next to the spread. The logarithms come from [`log_ratios`]. That agrees
/// with `np.cov` far inside `1e-12` relative; `np.cov`'s products go through BLAS and cannot
/// be matched bit for bit anyway.
#[derive(Default)]
pub(super) struct BetaSums {
    shift: Option<(f64, f64)>,
    total: [f64; 4],
}

impl BetaSums {
    // Inline always: called leaf by leaf from the pass, in another module, and built into its
    // AVX2 build (`crate::wide`).
    #[inline(always)]
    pub(super) fn add(&mut self, lx: &[f64], ly: &[f64]) {
        let (kx, ky) = *self.shift.get_or_insert((lx[0], ly[0]));
        let mut sums = [0.0_f64; 4];
        for (&x, &y) in lx.iter().zip(ly) {
            let dx = x - kx;
            let dy = y - ky;
            sums[0] += dx;
            sums[1] += dy;
            sums[2] += dx * dy;
            sums[3] += dy * dy;
        }
        for (t, b) in self.total.iter_mut().zip(sums) {
            *t += b;
        }
    }

    /// Beta over `m` returns; NaN below two.
    pub(super) fn beta(&self, m: usize) -> f64 {
        if m < 2 {
            return f64::NAN;
        }
        let [sx, sy, sxy, syy] = self.total;
        let m = m as f64;
        (sxy - sx * sy / m) / (syy - sy * sy / m)
    }
}

/// The largest `|u|` of [`log_ratios`]' series: ratios from `0.905` to `1.105`, where the
/// first term left out, `u^12 / 13`, is below `2^-55`.
const LN_SERIES_MAX_U: f64 = 0.05;

/// `out[i] = ln(v[i + 1] / v[i])` for the `out.len() + 1` values `v`: the logarithm of the
/// rounded ratio, as the reference takes `np.log` of the ratios it divided, within about
/// 3 ulp of it. (The logarithm of the exact ratio is no good: half an ulp of a ratio near 1
/// is `1.1e-16` absolute, a large part of a small logarithm: `7e-10` of it for a price of
/// 65,432.12 moving a cent.) Ratios near 1 (within about 10%: daily moves of prices and
/// equity) take the series `ln(q) = 2 atanh(u) = 2u (1 + u^2/3 + u^4/5 + ...)` with
/// `u = (q - 1) / (q + 1)` (`q - 1` exact), one division and a few products in a loop the
/// compiler vectorizes; the others, and NaN, zeros and infinities, `f64::ln` of the ratio.
/// Equal values give exactly 0.
// Inline always: called leaf by leaf from the pass, in another module, and built into its
// AVX2 build (`crate::wide`).
#[inline(always)]
pub(crate) fn log_ratios(v: &[f64], out: &mut [f64]) {
    let mut far = false;
    for (o, w) in out.iter_mut().zip(v.windows(2)) {
        let q = w[1] / w[0];
        let u = (q - 1.0) / (q + 1.0);
        // Written so that NaN (zeros, infinities) counts as far.
        let near = u.abs() <= LN_SERIES_MAX_U;
        far |= !near;
        let s = u * u;
        let p = 1.0
            + s * (1.0 / 3.0
                + s * (1.0 / 5.0 + s * (1.0 / 7.0 + s * (1.0 / 9.0 + s * (1.0 / 11.0)))));
        *o = (2.0 * u) * p;
    }
    if far {
        for (o, w) in out.iter_mut().zip(v.windows(2)) {
            let q = w[1] / w[0];
            let u = (q - 1.0) / (q + 1.0);
            let near = u.abs() <= LN_SERIES_MAX_U;
            if !near {
                *o = q.ln();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::walk;

    #[test]
    fn series_logarithm_matches_ln() {
        let mut v = walk(5_000, 0.3);
        v.extend([
            1.0, 1.0, 1.105, 1.0, 0.904, 1.0, 2.0, 0.5, 1e-300, 0.0, 0.0, 1.0,
        ]);
        v.extend([
            f64::NAN,
            1.0,
            f64::INFINITY,
            1.0,
            -1.0,
            1.0,
            1.0 + f64::EPSILON,
            1.0,
        ]);
        v.extend([1e308, 1.7e308, 1e308, 1e-310, 1e-310, 2e-310, 1.0]);
        // Prices of many digits moving a tick: the ratio's rounding is most of the move.
        v.extend([
            65_432.12,
            65_432.13,
            65_432.11,
            1_000_000.0,
            1_000_000.15,
            999_999.85,
        ]);
        let mut out = vec![0.0; v.len() - 1];
        log_ratios(&v, &mut out);
        for (w, &l) in v.windows(2).zip(&out) {
            let exact = (w[1] / w[0]).ln();
            if exact.is_nan() {
                assert!(l.is_nan(), "ln({} / {}) = {l}", w[1], w[0]);
            } else if exact == 0.0 || exact.is_infinite() {
                assert_eq!(l, exact, "ln({} / {})", w[1], w[0]);
            } else {
                // Within 3 ulp of the logarithm of the rounded ratio.
                let err = (l - exact).abs();
                let ulp = exact.abs() * f64::EPSILON;
                assert!(
                    err <= 3.0 * ulp,
                    "ln({} / {}) = {l}, not {exact}",
                    w[1],
                    w[0]
                );
            }
        }
    }
}
