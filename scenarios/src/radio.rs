//! Radio (spec section 3): path loss, spatially correlated log-normal
//! shadowing, per-unit SNR and rate, accessibility.

use rand::Rng;
use rand_distr::StandardNormal;

use crate::config::{PathLossModel, RadioConfig};
use crate::geo::shadow_cell_m;

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

    pub fn pathloss_db(&self, d_m: f64) -> f64 {
        let d_km = d_m.max(MIN_DISTANCE_M) / 1000.0;
        match self.model {
            PathLossModel::SmallCell => 140.7 + 36.7 * d_km.log10(),
            PathLossModel::Macro => 128.1 + 37.6 * d_km.log10(),
        }
    }

    /// SNR on one unit; `shadow_db` is a loss (positive = weaker).
    pub fn snr_db(&self, d_m: f64, shadow_db: f64) -> f64 {
        self.tx_unit_dbm - self.pathloss_db(d_m) - shadow_db - self.noise_unit_dbm
    }

    /// `W_unit · log2(1 + γ)`, bit/s on one unit.
    pub fn rate_per_unit_bps(&self, snr_db: f64) -> f64 {
        self.unit_hz * (1.0 + 10f64.powf(snr_db / 10.0)).log2()
    }

    /// Largest distance at which a link can still be accessible given the
    /// strongest shadowing gain `min_shadow_db` of a map: beyond it, skip the link.
    pub fn max_range_m(&self, min_shadow_db: f64) -> f64 {
        let pl_max = self.tx_unit_dbm - min_shadow_db - self.noise_unit_dbm - self.min_snr_db;
        let (a, b) = match self.model {
            PathLossModel::SmallCell => (140.7, 36.7),
            PathLossModel::Macro => (128.1, 37.6),
        };
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
    nx: usize,
    ny: usize,
    values: Vec<f32>,
    min_db: f64,
}

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
        let min_db = values.iter().copied().fold(f32::INFINITY, f32::min) as f64;
        ShadowMap { cell, nx, ny, values, min_db: min_db.min(0.0) }
    }

    /// A map of zeros (σ = 0, or tests).
    pub fn flat(area: [f64; 2]) -> ShadowMap {
        ShadowMap { cell: area[0].max(area[1]).max(1.0), nx: 4, ny: 4, values: vec![0.0; 16], min_db: 0.0 }
    }

    /// Smallest value (strongest gain), dB; never above 0.
    pub fn min_db(&self) -> f64 {
        self.min_db
    }

    /// Shadowing at (x, y) metres; positions outside the map are clamped to it.
    pub fn at(&self, x: f64, y: f64) -> f64 {
        let fx = ((x / self.cell) + 1.0).clamp(0.0, (self.nx - 2) as f64);
        let fy = ((y / self.cell) + 1.0).clamp(0.0, (self.ny - 2) as f64);
        let (i, j) = (fx as usize, fy as usize);
        let (tx, ty) = (fx - i as f64, fy - j as f64);
        let v = |i: usize, j: usize| f64::from(self.values[j * self.nx + i]);
        let top = v(i, j) * (1.0 - tx) + v(i + 1, j) * tx;
        let bot = v(i, j + 1) * (1.0 - tx) + v(i + 1, j + 1) * tx;
        top * (1.0 - ty) + bot * ty
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

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
        // Interpolation hits grid points exactly.
        assert!((m.at(0.0, 0.0) - f64::from(m.values[m.nx + 1])).abs() < 1e-6);
    }
}
