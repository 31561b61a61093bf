//! Radio (spec section 3): path loss, spatially correlated log-normal
//! shadowing, per-unit SNR and rate, accessibility.

use rand::Rng;
use rand_distr::StandardNormal;

use crate::geo::shadow_cell_m;
use crate::schema::{PathLossModel, RadioConfig};

/// Distances below this are clamped (the path-loss formulas diverge at 0).
pub const MIN_DISTANCE_M: f64 = 1.0;

#[derive(Debug, Clone)]
pub struct Radio {
    pub model: PathLossModel,
    /// Transmit power on one unit: `P_u − 10 log10(K_n)`, dBm.
    pub tx_unit_dbm: f64,
    /// Noise on one unit: `N0 + 10 log10(W_unit) + NF + interference margin`, dBm.
    pub noise_unit_dbm: f64,
    pub unit_hz: f64,
    pub min_snr_db: f64,
}

impl Radio {
    pub fn new(cfg: &RadioConfig, rb_units: u32, unit_hz: f64) -> Radio {
        Radio {
            model: cfg.pathloss,
            tx_unit_dbm: cfg.tx_power_dbm - 10.0 * f64::from(rb_units).log10(),
            noise_unit_dbm: cfg.noise_dbm_per_hz
                + 10.0 * unit_hz.log10()
                + cfg.noise_figure_db
                + cfg.interference_margin_db,
            unit_hz,
            min_snr_db: cfg.min_snr_db,
        }
    }

    fn pathloss_coeffs(&self) -> (f64, f64) {
        match self.model {
            PathLossModel::SmallCell => (140.7, 36.7),
            PathLossModel::Macro => (128.1, 37.6),
        }
    }

    pub fn pathloss_db(&self, d_m: f64) -> f64 {
        let (a, b) = self.pathloss_coeffs();
        a + b * (d_m.max(MIN_DISTANCE_M) / 1000.0).log10()
    }

    /// SNR on one unit; `shadow_db` is a loss (positive = weaker).
    pub fn snr_db(&self, d_m: f64, shadow_db: f64) -> f64 {
        self.snr_db_sq(d_m * d_m, shadow_db)
    }

    /// [`Self::snr_db`] from the squared distance: the hot path of `observe`
    /// (one logarithm, no square root): `a + b log10(d/1000) = a − 3b + (b/2) log10(d²)`.
    #[inline]
    pub fn snr_db_sq(&self, d2_m2: f64, shadow_db: f64) -> f64 {
        let (a, b) = self.pathloss_coeffs();
        let pl = a - 3.0 * b + 0.5 * b * std::f64::consts::LOG10_E * d2_m2.max(MIN_DISTANCE_M * MIN_DISTANCE_M).ln();
        self.tx_unit_dbm - pl - shadow_db - self.noise_unit_dbm
    }

    /// `W_unit · log2(1 + γ)`, bit/s on one unit.
    #[inline]
    pub fn rate_per_unit_bps(&self, snr_db: f64) -> f64 {
        self.unit_hz * (1.0 + (snr_db * (std::f64::consts::LN_10 / 10.0)).exp()).log2()
    }

    /// Largest distance at which a link can still be accessible given the
    /// strongest shadowing gain `min_shadow_db` of a map: beyond it, skip the link.
    pub fn max_range_m(&self, min_shadow_db: f64) -> f64 {
        let pl_max = self.tx_unit_dbm - min_shadow_db - self.noise_unit_dbm - self.min_snr_db;
        let (a, b) = self.pathloss_coeffs();
        1000.0 * 10f64.powf((pl_max - a) / b) * (1.0 + 1e-9)
    }
}

/// Shadowing of one node as a gridded Gaussian field in dB, with correlation
/// `exp(−(|dx|+|dy|)/d_corr)` between grid points (separable exponential,
/// made by a first-order autoregressive filter along rows, then columns),
/// read with bilinear interpolation.
#[derive(Debug, Clone)]
pub struct ShadowMap {
    cell: f64,
    inv_cell: f64,
    nx: usize,
    ny: usize,
    values: Vec<f32>,
    min_db: f64,
    /// Tiles of `TILE × TILE` cells: the smallest value any interpolated point
    /// of the tile can take (the minimum over the tile's grid corners).
    tiles_x: usize,
    tile_min: Vec<f64>,
}

/// Tile side in cells (8 cells = 2 decorrelation distances).
const TILE: usize = 8;

impl ShadowMap {
    /// A map covering `[−cell, area + cell]` in both axes.
    pub fn generate<R: Rng>(rng: &mut R, area: [f64; 2], decorrelation_m: f64, sigma_db: f64) -> ShadowMap {
        let cell = shadow_cell_m(decorrelation_m);
        let nx = (area[0] / cell).ceil() as usize + 3;
        let ny = (area[1] / cell).ceil() as usize + 3;
        let a = (-cell / decorrelation_m).exp();
        let b = (1.0 - a * a).sqrt();
        let mut v = vec![0f64; nx * ny];
        for j in 0..ny {
            for i in 0..nx {
                let w: f64 = rng.sample(StandardNormal);
                v[j * nx + i] = if i == 0 { w } else { a * v[j * nx + i - 1] + b * w };
            }
        }
        for j in 1..ny {
            for i in 0..nx {
                v[j * nx + i] = a * v[(j - 1) * nx + i] + b * v[j * nx + i];
            }
        }
        let values: Vec<f32> = v.iter().map(|x| (x * sigma_db) as f32).collect();
        Self::from_values(cell, nx, ny, values)
    }

    fn from_values(cell: f64, nx: usize, ny: usize, values: Vec<f32>) -> ShadowMap {
        let min_db = f64::from(values.iter().copied().fold(f32::INFINITY, f32::min)).min(0.0);
        // Cells are indexed 0..nx-1 (a point uses the corners i, i+1 with i <= nx-2).
        let tiles_x = (nx - 1).div_ceil(TILE);
        let tiles_y = (ny - 1).div_ceil(TILE);
        let mut tile_min = vec![f64::INFINITY; tiles_x * tiles_y];
        for b in 0..tiles_y {
            for a in 0..tiles_x {
                let mut m = f64::INFINITY;
                for j in b * TILE..=((b + 1) * TILE).min(ny - 1) {
                    for i in a * TILE..=((a + 1) * TILE).min(nx - 1) {
                        m = m.min(f64::from(values[j * nx + i]));
                    }
                }
                tile_min[b * tiles_x + a] = m;
            }
        }
        ShadowMap { cell, inv_cell: 1.0 / cell, nx, ny, values, min_db, tiles_x, tile_min }
    }

    /// A map of zeros (σ = 0, or tests).
    pub fn flat(area: [f64; 2]) -> ShadowMap {
        Self::from_values(area[0].max(area[1]).max(1.0), 4, 4, vec![0.0; 16])
    }

    /// Smallest value (strongest gain), dB; never above 0.
    pub fn min_db(&self) -> f64 {
        self.min_db
    }

    /// Number of tiles.
    pub fn tiles(&self) -> usize {
        self.tile_min.len()
    }

    /// Where (x, y) falls on this map's grid (positions outside are clamped).
    /// Maps of one world share a grid, so one `locate` serves every node.
    #[inline]
    pub fn locate(&self, x: f64, y: f64) -> GridPoint {
        let fx = (x * self.inv_cell + 1.0).clamp(0.0, (self.nx - 2) as f64);
        let fy = (y * self.inv_cell + 1.0).clamp(0.0, (self.ny - 2) as f64);
        let (i, j) = (fx as usize, fy as usize);
        GridPoint {
            k: j * self.nx + i,
            tx: fx - i as f64,
            ty: fy - j as f64,
            tile: (j / TILE) * self.tiles_x + i / TILE,
        }
    }

    /// A lower bound of the shadowing anywhere in `tile`.
    pub fn tile_min_db(&self, tile: usize) -> f64 {
        self.tile_min[tile]
    }

    /// Same grid as `other` (so tile indices agree).
    pub fn same_grid(&self, other: &ShadowMap) -> bool {
        self.cell == other.cell && self.nx == other.nx && self.ny == other.ny
    }

    /// Shadowing at (x, y) metres; positions outside the map are clamped to it.
    pub fn at(&self, x: f64, y: f64) -> f64 {
        self.at_point(&self.locate(x, y))
    }

    /// Shadowing at a located point (bilinear between the four grid corners).
    #[inline]
    pub fn at_point(&self, p: &GridPoint) -> f64 {
        let w = &self.values[p.k..p.k + self.nx + 2];
        let top = f64::from(w[0]) * (1.0 - p.tx) + f64::from(w[1]) * p.tx;
        let bot = f64::from(w[self.nx]) * (1.0 - p.tx) + f64::from(w[self.nx + 1]) * p.tx;
        top * (1.0 - p.ty) + bot * p.ty
    }
}

/// The shadowing maps of all nodes of a world (one grid), interleaved by
/// node: the values of every node at one grid point are adjacent. `observe`
/// reads every node's map at each terminal's position; node-major maps cost
/// a cache miss per node there (72 % of `observe`'s time in a `perf`
/// profile of training), interleaved ones a few per terminal. Same values,
/// same arithmetic as [`ShadowMap::at_point`].
#[derive(Debug, Clone)]
pub struct ShadowStack {
    nx: usize,
    nodes: usize,
    values: Vec<f32>,
}

impl ShadowStack {
    /// Maps that share one grid (as a world's do).
    pub fn new(maps: &[ShadowMap]) -> ShadowStack {
        assert!(maps.windows(2).all(|w| w[0].same_grid(&w[1])), "one shadowing grid per stack");
        let nodes = maps.len();
        let points = maps.first().map_or(0, |m| m.values.len());
        let mut values = vec![0f32; points * nodes];
        for (n, m) in maps.iter().enumerate() {
            for (k, &v) in m.values.iter().enumerate() {
                values[k * nodes + n] = v;
            }
        }
        ShadowStack { nx: maps.first().map_or(0, |m| m.nx), nodes, values }
    }

    /// Node `n`'s shadowing at a located point; equal to `maps[n].at_point(p)`.
    #[inline]
    pub fn at_point(&self, p: &GridPoint, n: usize) -> f64 {
        let v = |k: usize| f64::from(self.values[k * self.nodes + n]);
        let top = v(p.k) * (1.0 - p.tx) + v(p.k + 1) * p.tx;
        let bot = v(p.k + self.nx) * (1.0 - p.tx) + v(p.k + self.nx + 1) * p.tx;
        top * (1.0 - p.ty) + bot * p.ty
    }
}

/// A position located on a shadowing grid: corner index, fractions, tile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridPoint {
    k: usize,
    tx: f64,
    ty: f64,
    pub tile: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    #[test]
    fn the_interleaved_stack_reads_exactly_what_each_map_reads() {
        let mut rng = stream(7, "stack-test");
        let area = [640.0, 410.0];
        let maps: Vec<ShadowMap> = (0..5).map(|_| ShadowMap::generate(&mut rng, area, 50.0, 8.0)).collect();
        let stack = ShadowStack::new(&maps);
        let mut differ = 0;
        for k in 0..2000 {
            // Inside, on and beyond the edges (clamped).
            let (x, y) = ((k * 37 % 700) as f64 - 30.0 + 0.123 * k as f64 % 1.0, (k * 53 % 470) as f64 - 30.0);
            let p = maps[0].locate(x, y);
            for (n, m) in maps.iter().enumerate() {
                assert_eq!(stack.at_point(&p, n).to_bits(), m.at_point(&p).to_bits(), "node {n} at ({x}, {y})");
                differ += usize::from(n > 0 && m.at_point(&p) != maps[0].at_point(&p));
            }
        }
        assert!(differ > 1000, "the maps must differ for the test to mean anything");
    }

    fn radio() -> Radio {
        Radio::new(&RadioConfig::default(), 20, 900e3)
    }

    #[test]
    fn pathloss_hand_values() {
        let r = radio();
        // 140.7 + 36.7 log10(0.1) = 104.0 dB at 100 m.
        assert!((r.pathloss_db(100.0) - 104.0).abs() < 1e-9);
        // 1 km: the intercept.
        assert!((r.pathloss_db(1000.0) - 140.7).abs() < 1e-9);
        let m = Radio { model: PathLossModel::Macro, ..radio() };
        assert!((m.pathloss_db(100.0) - (128.1 - 37.6)).abs() < 1e-9);
    }

    #[test]
    fn snr_and_rate_hand_values() {
        let r = radio();
        // tx per unit: 23 − 10 log10(20) = 9.9897 dBm; noise: −174 + 10 log10(9e5) + 5 = −109.4576 dBm.
        assert!((r.tx_unit_dbm - 9.98970).abs() < 1e-4);
        assert!((r.noise_unit_dbm - (-109.45757)).abs() < 1e-4);
        let snr = r.snr_db(100.0, 0.0);
        assert!((snr - 15.44727).abs() < 1e-4, "{snr}");
        // 9e5 · log2(1 + 10^1.5447275) = 9e5 · 5.17205 = 4.65485 Mbit/s.
        let rate = r.rate_per_unit_bps(snr);
        assert!((rate - 4.65485e6).abs() < 100.0, "{rate}");
        // Shadowing is a loss: +6 dB shadowing takes 6 dB off the SNR.
        assert!((r.snr_db(100.0, 6.0) - (snr - 6.0)).abs() < 1e-12);
        assert!((r.rate_per_unit_bps(0.0) - 9e5).abs() < 1e-6);
    }

    #[test]
    fn max_range_is_where_snr_hits_the_threshold() {
        let r = radio();
        let d = r.max_range_m(-10.0);
        assert!((r.snr_db(d, -10.0) - r.min_snr_db).abs() < 1e-6);
    }

    #[test]
    fn shadowing_has_the_configured_spread_and_correlation() {
        let mut rng = stream(1, "shadow-test");
        let m = ShadowMap::generate(&mut rng, [4000.0, 4000.0], 50.0, 6.0);
        let n = m.values.len() as f64;
        let mean = m.values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = m.values.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 0.3, "{mean}");
        assert!((var.sqrt() - 6.0).abs() < 0.3, "{}", var.sqrt());
        // Correlation at one decorrelation distance (4 cells) along x ≈ e^-1.
        let mut c = 0.0;
        let mut k = 0.0;
        for j in 0..m.ny {
            for i in 0..m.nx - 4 {
                c += f64::from(m.values[j * m.nx + i]) * f64::from(m.values[j * m.nx + i + 4]);
                k += 1.0;
            }
        }
        let rho = c / k / var;
        assert!((rho - (-1f64).exp()).abs() < 0.05, "{rho}");
        // The tile bound holds at arbitrary points.
        let mut r = stream(2, "points");
        for _ in 0..10_000 {
            let (x, y) = (rand::Rng::gen::<f64>(&mut r) * 4100.0 - 50.0, rand::Rng::gen::<f64>(&mut r) * 4100.0 - 50.0);
            assert!(m.at(x, y) >= m.tile_min_db(m.locate(x, y).tile) - 1e-9);
        }
        // Interpolation hits grid points exactly.
        assert!((m.at(0.0, 0.0) - f64::from(m.values[m.nx + 1])).abs() < 1e-6);
    }
}
