//! The offload options of one task at one node, reduced exactly: per
//! (rb, cu) level pair only the cheapest cut (the cut changes neither the
//! units nor the cache the option needs), then only the options that no
//! other one matches or beats in cost and in both units (a solution using a
//! dropped option can swap it for the one that dominates it without raising
//! its cost or breaking a capacity). Shared by `milp` and the bound.

use scenarios::Environment;

/// Per allowed (rb, cu) at `node`, the least `value(cut, rb, cu)` over the
/// model's `cuts` and its cut, `(value, rb, cu, cut)`; pairs every cut prices
/// as None are left out.
pub fn cheapest_cut_per_level(
    env: &Environment,
    node: usize,
    cuts: usize,
    mut value: impl FnMut(usize, u32, u32) -> Option<f64>,
) -> Vec<(f64, u32, u32, usize)> {
    let (rb_units, cu_units) = (env.nodes[node].rb_units, env.nodes[node].cu_units);
    let mut per_level: Vec<(f64, u32, u32, usize)> = Vec::new();
    for cut in 0..cuts {
        for &rb in env.rb_levels.iter().filter(|&&r| r <= rb_units) {
            for &cu in env.cu_levels.iter().filter(|&&c| c <= cu_units) {
                let Some(v) = value(cut, rb, cu) else { continue };
                match per_level.iter_mut().find(|o| o.1 == rb && o.2 == cu) {
                    Some(o) if v < o.0 => *o = (v, rb, cu, cut),
                    Some(_) => {}
                    None => per_level.push((v, rb, cu, cut)),
                }
            }
        }
    }
    per_level
}

/// The options no other matches or beats in cost and in both units,
/// `(cost, rb, cu, payload)`, cheapest first.
pub fn undominated<T>(mut options: Vec<(f64, u32, u32, T)>) -> Vec<(f64, u32, u32, T)> {
    options.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut kept: Vec<(f64, u32, u32, T)> = Vec::with_capacity(options.len());
    for o in options {
        if !kept.iter().any(|k| k.1 <= o.1 && k.2 <= o.2) {
            kept.push(o);
        }
    }
    kept
}
