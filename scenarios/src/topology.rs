//! Edge-node placement (spec section 2).

use rand::Rng;

use crate::config::Scenario;
use crate::rng::stream;
use crate::schema::Placement;

/// Positions of the scenario's nodes in the area. Lattice placements take the
/// `count` lattice points nearest the area centre (ties broken by y, then x),
/// so any count gives a compact, centred layout.
pub fn place_nodes(scenario: &Scenario, seed: u64) -> Vec<[f64; 2]> {
    let c = scenario.config();
    let area = scenario.area();
    let n = c.nodes.count;
    let centre = [area[0] / 2.0, area[1] / 2.0];
    match c.nodes.placement {
        Placement::Sites => scenario.site_positions().expect("validated sites").to_vec(),
        Placement::Random => {
            let mut rng = stream(seed, "topology");
            (0..n).map(|_| [rng.gen::<f64>() * area[0], rng.gen::<f64>() * area[1]]).collect()
        }
        Placement::Grid => nearest_lattice(n, centre, scenario.lattice_spacing(), [1.0, 0.0], [0.0, 1.0]),
        Placement::Hex => {
            let s = scenario.lattice_spacing();
            nearest_lattice(n, centre, s, [1.0, 0.0], [0.5, 3f64.sqrt() / 2.0])
        }
    }
}

fn nearest_lattice(n: usize, centre: [f64; 2], spacing: f64, a: [f64; 2], b: [f64; 2]) -> Vec<[f64; 2]> {
    // For an even side the lattice is offset by half a spacing so that a square
    // count (4, 16, ...) is symmetric about the centre.
    let side = (n as f64).sqrt().ceil() as i64;
    let off = if side % 2 == 0 { 0.5 } else { 0.0 };
    let r = side + 2;
    let mut pts = Vec::new();
    for j in -r..=r {
        for i in -r..=r {
            let (fi, fj) = (i as f64 + off, j as f64 + off);
            let x = (fi * a[0] + fj * b[0]) * spacing;
            let y = (fi * a[1] + fj * b[1]) * spacing;
            pts.push([x, y]);
        }
    }
    pts.sort_by(|p, q| {
        let dp = p[0] * p[0] + p[1] * p[1];
        let dq = q[0] * q[0] + q[1] * q[1];
        (dp, p[1], p[0]).partial_cmp(&(dq, q[1], q[0])).expect("finite lattice")
    });
    pts.truncate(n);
    pts.iter().map(|p| [centre[0] + p[0], centre[1] + p[1]]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ScenarioConfig;

    #[test]
    fn grid_of_nine_is_three_by_three() {
        let s = ScenarioConfig::default().validate("d", None).unwrap();
        let p = place_nodes(&s, 1);
        assert_eq!(p.len(), 9);
        let mut xs: Vec<i64> = p.iter().map(|q| q[0].round() as i64).collect();
        xs.sort();
        xs.dedup();
        assert_eq!(xs, vec![150, 400, 650]);
    }

    #[test]
    fn hex_neighbours_are_spacing_apart() {
        let mut c = ScenarioConfig::default();
        c.nodes.placement = Placement::Hex;
        c.nodes.count = 7;
        let p = place_nodes(&c.validate("h", None).unwrap(), 1);
        // The centre and its six neighbours at exactly `spacing`.
        let d: Vec<f64> = p[1..].iter().map(|q| ((q[0] - p[0][0]).powi(2) + (q[1] - p[0][1]).powi(2)).sqrt()).collect();
        assert!(d.iter().all(|x| (x - 250.0).abs() < 1e-9), "{d:?}");
    }

    #[test]
    fn sites_placement_uses_the_projected_sites_and_their_area() {
        let mut c = ScenarioConfig::default();
        c.nodes.placement = Placement::Sites;
        c.nodes.sites_file = "builtin:eua-melbcbd-sites.csv".into();
        c.nodes.count = 20;
        let s = c.validate("sites", None).unwrap();
        let p = place_nodes(&s, 1);
        assert_eq!(p.len(), 20);
        assert_ne!(s.area(), [800.0, 800.0], "area comes from the sites");
        assert!(p.iter().all(|q| q[0] >= 0.0 && q[1] >= 0.0 && q[0] <= s.area()[0] && q[1] <= s.area()[1]));
        // Too many sites requested is a field error.
        let mut c = s.config().clone();
        c.nodes.count = 500;
        let e = c.validate("sites", None).unwrap_err().to_string();
        assert!(e.contains("nodes.count") && e.contains("125"), "{e}");
    }

    #[test]
    fn random_placement_is_seeded() {
        let mut c = ScenarioConfig::default();
        c.nodes.placement = Placement::Random;
        let s = c.validate("r", None).unwrap();
        assert_eq!(place_nodes(&s, 3), place_nodes(&s, 3));
        assert_ne!(place_nodes(&s, 3), place_nodes(&s, 4));
    }
}
