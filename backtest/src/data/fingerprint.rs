//! [`Bars::fingerprint`]'s hash, computed as the bars are built.
//!
//! [`Bars::fingerprint`]: super::Bars::fingerprint

/// [`Bars::fingerprint`](super::Bars::fingerprint)'s hash, fed a bar at a time
/// ([`push`](Self::push)) or a column at a time ([`of_columns`](Self::of_columns)), with the
/// same result: column `c`'s value `i` goes into its lane `i % 4` (independent lanes, so that
/// the multiplications overlap).
#[derive(Debug, Clone)]
pub(super) struct Fingerprint {
    /// The lanes of the time, open, high, low, close and volume columns.
    lanes: [[u64; 4]; 6],
    rows: u64,
}

impl Default for Fingerprint {
    fn default() -> Self {
        Fingerprint {
            lanes: std::array::from_fn(|c| std::array::from_fn(|k| (4 * c + k) as u64)),
            rows: 0,
        }
    }
}

impl Fingerprint {
    /// Adds one bar (a missing volume adds nothing that [`finish`](Self::finish) without
    /// volume reads).
    #[inline]
    pub(super) fn push(&mut self, time: i64, prices: [f64; 4], volume: Option<f64>) {
        let k = (self.rows % 4) as usize;
        let [o, h, l, c] = prices.map(f64::to_bits);
        let words = [time as u64, o, h, l, c, volume.map_or(0, f64::to_bits)];
        for (lanes, word) in self.lanes.iter_mut().zip(words) {
            lanes[k] = fx_step(lanes[k], word);
        }
        self.rows += 1;
    }

    /// The hash of whole columns of equal length.
    pub(super) fn of_columns(times: &[i64], prices: [&[f64]; 4], volume: Option<&[f64]>) -> u64 {
        let mut f = Fingerprint::default();
        f.lanes[0] = fx_column(f.lanes[0], times, |t| t as u64);
        for (lanes, column) in f.lanes[1..].iter_mut().zip(prices) {
            *lanes = fx_column(*lanes, column, f64::to_bits);
        }
        if let Some(v) = volume {
            f.lanes[5] = fx_column(f.lanes[5], v, f64::to_bits);
        }
        f.rows = times.len() as u64;
        f.finish(volume.is_some())
    }

    pub(super) fn finish(&self, has_volume: bool) -> u64 {
        let columns = if has_volume { 6 } else { 5 };
        let mut h = fx_step(u64::from(has_volume), self.rows);
        for &lane in self.lanes[..columns].iter().flatten() {
            h = fx_step(h, lane);
        }
        // SplitMix64's finalizer, so that every input bit reaches every output bit.
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    }
}

fn fx_step(h: u64, word: u64) -> u64 {
    (h.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95)
}

/// Hashes a column into four lanes, value `i` into lane `i % 4`.
fn fx_column<T: Copy>(mut lanes: [u64; 4], values: &[T], bits: impl Fn(T) -> u64) -> [u64; 4] {
    let chunks = values.chunks_exact(4);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = fx_step(*lane, bits(v));
        }
    }
    for (lane, &v) in lanes.iter_mut().zip(rest) {
        *lane = fx_step(*lane, bits(v));
    }
    lanes
}
