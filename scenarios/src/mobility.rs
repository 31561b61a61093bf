//! Mobility traces (spec section 2): one position per terminal per slot.
//! Built-in generators: random waypoint, Gauss–Markov, Manhattan grid.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::schema::{MobilityConfig, MobilityModel};
use crate::trace::Trace;

/// Generate a trace with the configured model inside `[0, area]`. Terminal
/// by terminal, each walking all its slots before the next draws its start.
pub fn generate<R: Rng>(
    rng: &mut R,
    cfg: &MobilityConfig,
    area: [f64; 2],
    terminals: usize,
    slots: usize,
    slot_s: f64,
) -> Trace {
    let mut pos = vec![[0.0; 2]; slots * terminals];
    for u in 0..terminals {
        let mut walker = Walker::new(rng, cfg, area);
        for t in 0..slots {
            pos[t * terminals + u] = walker.next(rng, cfg, area, slot_s);
        }
    }
    Trace { slots, terminals, pos, present: vec![true; slots * terminals] }
}

/// [`generate`]'s trace replayed slot by slot, without storing it: where
/// each terminal's draws start in the stream, found by one pass of
/// generation. Memory is per terminal, whatever the number of slots.
#[derive(Debug, Clone)]
pub struct WalkPlan {
    cfg: MobilityConfig,
    area: [f64; 2],
    slot_s: f64,
    slots: usize,
    rng: ChaCha8Rng,
    /// The stream's word position at each terminal's first draw.
    starts: Vec<u128>,
}

impl WalkPlan {
    pub fn new(
        rng: ChaCha8Rng,
        cfg: &MobilityConfig,
        area: [f64; 2],
        terminals: usize,
        slots: usize,
        slot_s: f64,
    ) -> Self {
        let mut walk = rng.clone();
        let starts = (0..terminals)
            .map(|_| {
                let start = walk.get_word_pos();
                let mut walker = Walker::new(&mut walk, cfg, area);
                for _ in 0..slots {
                    walker.next(&mut walk, cfg, area, slot_s);
                }
                start
            })
            .collect();
        WalkPlan { cfg: cfg.clone(), area, slot_s, slots, rng, starts }
    }
    pub fn terminals(&self) -> usize {
        self.starts.len()
    }
    pub fn slots(&self) -> usize {
        self.slots
    }
    /// Every terminal's walker before its first slot.
    pub fn walkers(&self) -> Walkers {
        let walkers = self
            .starts
            .iter()
            .map(|&start| {
                let mut rng = self.rng.clone();
                rng.set_word_pos(start);
                let walker = Walker::new(&mut rng, &self.cfg, self.area);
                (rng, walker)
            })
            .collect();
        Walkers { walkers }
    }
    /// Write every terminal's position in the next slot into `pos`.
    pub fn next_slot(&self, w: &mut Walkers, pos: &mut [[f64; 2]]) {
        for ((rng, walker), p) in w.walkers.iter_mut().zip(pos) {
            *p = walker.next(rng, &self.cfg, self.area, self.slot_s);
        }
    }
}

/// The walkers of a [`WalkPlan`] replay, each with its own copy of the stream.
#[derive(Debug, Clone)]
pub struct Walkers {
    walkers: Vec<(ChaCha8Rng, Walker)>,
}

fn uniform<R: Rng>(rng: &mut R, r: [f64; 2]) -> f64 {
    r[0] + (r[1] - r[0]) * rng.gen::<f64>()
}

/// Slowest speed drawn, m/s: a zero speed would freeze a waypoint walker.
const MIN_SPEED: f64 = 0.05;

/// One terminal's walk, a slot at a time: its start is drawn by [`Walker::new`],
/// each [`Walker::next`] gives the current position and steps one slot.
#[derive(Debug, Clone)]
enum Walker {
    Waypoint { p: [f64; 2], dest: [f64; 2], speed: f64, pause: f64 },
    GaussMarkov { p: [f64; 2], speed: f64, dir: f64, mean_dir: f64 },
    Manhattan { p: [f64; 2], axis: usize, sign: f64, speed: f64 },
}

/// Manhattan grid: the number of streets along each axis, and the last one's coordinate.
fn manhattan_grid(cfg: &MobilityConfig, area: [f64; 2]) -> ([i64; 2], [f64; 2]) {
    let b = cfg.block_m;
    let lines = [(area[0] / b).floor() as i64, (area[1] / b).floor() as i64];
    (lines, [lines[0] as f64 * b, lines[1] as f64 * b])
}

impl Walker {
    fn new<R: Rng>(rng: &mut R, cfg: &MobilityConfig, area: [f64; 2]) -> Walker {
        match cfg.model {
            MobilityModel::RandomWaypoint => {
                let p = [rng.gen::<f64>() * area[0], rng.gen::<f64>() * area[1]];
                let dest = [rng.gen::<f64>() * area[0], rng.gen::<f64>() * area[1]];
                let speed = uniform(rng, cfg.speed_mps).max(MIN_SPEED);
                Walker::Waypoint { p, dest, speed, pause: 0.0 }
            }
            MobilityModel::GaussMarkov => {
                let p = [rng.gen::<f64>() * area[0], rng.gen::<f64>() * area[1]];
                let dir = rng.gen::<f64>() * std::f64::consts::TAU;
                let speed = (cfg.speed_mps[0] + cfg.speed_mps[1]) / 2.0;
                Walker::GaussMarkov { p, speed, dir, mean_dir: dir }
            }
            MobilityModel::Manhattan => {
                // Start on a random street: axis 0 moves along x (on a horizontal street).
                let (lines, max) = manhattan_grid(cfg, area);
                let mut axis = usize::from(rng.gen::<bool>());
                let other = 1 - axis;
                let mut p = [0.0; 2];
                p[other] = rng.gen_range(0..=lines[other]) as f64 * cfg.block_m;
                p[axis] = rng.gen::<f64>() * max[axis];
                let sign: f64 = if rng.gen::<bool>() { 1.0 } else { -1.0 };
                if max[axis] == 0.0 {
                    // A degenerate grid (area narrower than a block) has no street along this axis.
                    axis = other;
                }
                let speed = uniform(rng, cfg.speed_mps).max(MIN_SPEED);
                Walker::Manhattan { p, axis, sign, speed }
            }
        }
    }

    fn next<R: Rng>(&mut self, rng: &mut R, cfg: &MobilityConfig, area: [f64; 2], dt: f64) -> [f64; 2] {
        match self {
            Walker::Waypoint { p, dest, speed, pause } => {
                let now = *p;
                let point = |rng: &mut R| [rng.gen::<f64>() * area[0], rng.gen::<f64>() * area[1]];
                let mut time = dt;
                while time > 1e-12 {
                    if *pause > 0.0 {
                        let d = pause.min(time);
                        *pause -= d;
                        time -= d;
                        continue;
                    }
                    let (dx, dy) = (dest[0] - p[0], dest[1] - p[1]);
                    let dist = (dx * dx + dy * dy).sqrt();
                    if *speed * time >= dist {
                        *p = *dest;
                        time -= dist / *speed;
                        *pause = uniform(rng, cfg.pause_s);
                        *dest = point(rng);
                        *speed = uniform(rng, cfg.speed_mps).max(MIN_SPEED);
                    } else {
                        let f = *speed * time / dist;
                        *p = [p[0] + dx * f, p[1] + dy * f];
                        time = 0.0;
                    }
                }
                now
            }
            Walker::GaussMarkov { p, speed, dir, mean_dir } => {
                let now = *p;
                let a = cfg.gm_alpha;
                let b = (1.0 - a * a).sqrt();
                let mean_speed = (cfg.speed_mps[0] + cfg.speed_mps[1]) / 2.0;
                // Near a border (within 10 % of the shorter side) the mean direction turns
                // to the centre (Camp, Boleng, Davies 2002).
                let edge = 0.1 * area[0].min(area[1]);
                if p[0] < edge || p[0] > area[0] - edge || p[1] < edge || p[1] > area[1] - edge {
                    *mean_dir = (area[1] / 2.0 - p[1]).atan2(area[0] / 2.0 - p[0]);
                }
                let w1: f64 = rng.sample(StandardNormal);
                let w2: f64 = rng.sample(StandardNormal);
                *speed = (a * *speed + (1.0 - a) * mean_speed + b * cfg.gm_speed_sigma * w1)
                    .clamp(cfg.speed_mps[0], cfg.speed_mps[1]);
                // Turn by the shortest angle towards the mean direction.
                let delta =
                    (*mean_dir - *dir + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI;
                *dir += (1.0 - a) * delta + b * cfg.gm_direction_sigma * w2;
                let mut q = [p[0] + *speed * dt * dir.cos(), p[1] + *speed * dt * dir.sin()];
                // Reflect off the borders.
                for k in 0..2 {
                    if q[k] < 0.0 {
                        q[k] = -q[k];
                    }
                    if q[k] > area[k] {
                        q[k] = 2.0 * area[k] - q[k];
                    }
                    q[k] = q[k].clamp(0.0, area[k]);
                }
                if q[0] != p[0] + *speed * dt * dir.cos() || q[1] != p[1] + *speed * dt * dir.sin() {
                    *dir = (q[1] - p[1]).atan2(q[0] - p[0]);
                }
                *p = q;
                now
            }
            Walker::Manhattan { p, axis, sign, speed } => {
                // A walker keeps its street and, at each intersection, turns left or
                // right with probability `turn_prob` (else goes straight), never
                // leaving the grid; its speed is redrawn at every intersection.
                let now = *p;
                let b = cfg.block_m;
                let (_, max) = manhattan_grid(cfg, area);
                let mut dist = *speed * dt;
                let mut guard = 0;
                while dist > 1e-9 && guard < 10_000 {
                    guard += 1;
                    let x = p[*axis];
                    let next = if *sign > 0.0 {
                        ((x / b + 1e-9).floor() + 1.0) * b
                    } else {
                        ((x / b - 1e-9).ceil() - 1.0) * b
                    };
                    let to_next = (next - x).abs();
                    if dist < to_next {
                        p[*axis] = x + *sign * dist;
                        break;
                    }
                    p[*axis] = next;
                    dist -= to_next;
                    // At an intersection: choose among straight, left, right that stay on the grid.
                    let cross = 1 - *axis;
                    let can = |ax: usize, s: f64, p: &[f64; 2]| {
                        let n = p[ax] + s * b;
                        n >= -1e-9 && n <= max[ax] + 1e-9 && max[ax] > 0.0
                    };
                    let straight = can(*axis, *sign, p);
                    let turns: Vec<f64> = [-1.0, 1.0].into_iter().filter(|&s| can(cross, s, p)).collect();
                    let turn = !turns.is_empty() && (!straight || rng.gen::<f64>() < cfg.turn_prob);
                    if turn {
                        *sign = turns[rng.gen_range(0..turns.len())];
                        *axis = cross;
                    } else if !straight {
                        *sign = -*sign;
                    }
                    *speed = uniform(rng, cfg.speed_mps).max(MIN_SPEED);
                }
                now
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    fn cfg(model: MobilityModel) -> MobilityConfig {
        MobilityConfig { model, ..MobilityConfig::default() }
    }

    #[test]
    fn every_generator_stays_in_the_area_and_respects_max_speed() {
        for model in [MobilityModel::RandomWaypoint, MobilityModel::GaussMarkov, MobilityModel::Manhattan] {
            let c = cfg(model);
            let t = generate(&mut stream(5, "m"), &c, [700.0, 500.0], 20, 400, 1.0);
            for p in &t.pos {
                assert!(
                    p[0] >= -1e-6 && p[0] <= 700.0 + 1e-6 && p[1] >= -1e-6 && p[1] <= 500.0 + 1e-6,
                    "{model:?} {p:?}"
                );
            }
            for s in 1..t.slots {
                for u in 0..t.terminals {
                    let v = t.velocity(s, u, 1.0);
                    let speed = (v[0] * v[0] + v[1] * v[1]).sqrt();
                    assert!(speed <= c.speed_mps[1] + 1e-6, "{model:?} {speed}");
                }
            }
        }
    }

    #[test]
    fn a_replayed_walk_is_the_generated_trace() {
        for model in [MobilityModel::RandomWaypoint, MobilityModel::GaussMarkov, MobilityModel::Manhattan] {
            let c = cfg(model);
            let (terminals, slots) = (7, 120);
            let t = generate(&mut stream(11, "m"), &c, [700.0, 500.0], terminals, slots, 1.0);
            let plan = WalkPlan::new(stream(11, "m"), &c, [700.0, 500.0], terminals, slots, 1.0);
            let mut walkers = plan.walkers();
            let mut pos = vec![[0.0; 2]; terminals];
            for s in 0..slots {
                plan.next_slot(&mut walkers, &mut pos);
                for (u, p) in pos.iter().enumerate() {
                    assert_eq!(
                        p.map(f64::to_bits),
                        t.position(s, u).map(f64::to_bits),
                        "{model:?} slot {s} terminal {u}"
                    );
                }
            }
        }
    }

    #[test]
    fn manhattan_walkers_stay_on_streets() {
        let c = cfg(MobilityModel::Manhattan);
        let t = generate(&mut stream(2, "m"), &c, [700.0, 500.0], 10, 300, 1.0);
        for p in &t.pos {
            let on = |v: f64| (v / 100.0 - (v / 100.0).round()).abs() < 1e-6;
            assert!(on(p[0]) || on(p[1]), "{p:?}");
        }
    }

    #[test]
    fn random_waypoint_moves_at_drawn_speed() {
        let c = MobilityConfig { speed_mps: [3.0, 3.0], pause_s: [0.0, 0.0], ..cfg(MobilityModel::RandomWaypoint) };
        let t = generate(&mut stream(3, "m"), &c, [1000.0, 1000.0], 1, 50, 1.0);
        // Between waypoints the step is exactly 3 m; at a waypoint it can be shorter (a corner).
        let steps: Vec<f64> = (1..50)
            .map(|s| {
                let v = t.velocity(s, 0, 1.0);
                (v[0] * v[0] + v[1] * v[1]).sqrt()
            })
            .collect();
        assert!(steps.iter().filter(|&&s| (s - 3.0).abs() < 1e-9).count() > 40, "{steps:?}");
    }
}
