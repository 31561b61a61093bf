//! Latitude/longitude handling: site files and their projection to a local
//! plane in metres (equirectangular about the sites' centroid; below 0.1 %
//! error over a city-sized area).

use std::path::Path;

use crate::error::ConfigError;

/// Mean Earth radius, metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Cell size of the shadowing maps: a quarter of the decorrelation distance.
pub fn shadow_cell_m(decorrelation_m: f64) -> f64 {
    decorrelation_m / 4.0
}

/// Project (lat, lon) degrees to (x east, y north) metres about `origin`.
pub fn project(lat: f64, lon: f64, origin: (f64, f64)) -> [f64; 2] {
    let (lat0, lon0) = origin;
    let x = EARTH_RADIUS_M * (lon - lon0).to_radians() * lat0.to_radians().cos();
    let y = EARTH_RADIUS_M * (lat - lat0).to_radians();
    [x, y]
}

pub struct ProjectedSites {
    pub positions: Vec<[f64; 2]>,
    pub area: [f64; 2],
}

/// Project sites and shift them so that the bounding box plus `margin` on
/// every side starts at the origin.
pub fn project_sites(latlon: &[(f64, f64)], margin: f64) -> ProjectedSites {
    let n = latlon.len() as f64;
    let origin = (latlon.iter().map(|p| p.0).sum::<f64>() / n, latlon.iter().map(|p| p.1).sum::<f64>() / n);
    let raw: Vec<[f64; 2]> = latlon.iter().map(|&(la, lo)| project(la, lo, origin)).collect();
    let min_x = raw.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
    let min_y = raw.iter().map(|p| p[1]).fold(f64::INFINITY, f64::min);
    let max_x = raw.iter().map(|p| p[0]).fold(f64::NEG_INFINITY, f64::max);
    let max_y = raw.iter().map(|p| p[1]).fold(f64::NEG_INFINITY, f64::max);
    let positions = raw.iter().map(|p| [p[0] - min_x + margin, p[1] - min_y + margin]).collect();
    // A single site still gets a non-degenerate area.
    let area = [(max_x - min_x + 2.0 * margin).max(1.0), (max_y - min_y + 2.0 * margin).max(1.0)];
    ProjectedSites { positions, area }
}

/// Site files shipped with the project (`builtin:NAME` in a scenario):
/// the EUA Melbourne CBD base stations (Lai et al., ICSOC 2018; MIT licence,
/// see `scenarios/data/EUA-LICENSE`).
const BUILTIN_SITES: &[(&str, &str)] = &[("eua-melbcbd-sites.csv", include_str!("../data/eua-melbcbd-sites.csv"))];

pub fn builtin_sites(name: &str) -> Option<&'static str> {
    BUILTIN_SITES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

pub fn builtin_site_names() -> Vec<String> {
    BUILTIN_SITES.iter().map(|(n, _)| format!("builtin:{n}")).collect()
}

/// Read a site file: CSV with a header holding LATITUDE and LONGITUDE
/// (case-insensitive; LAT/LON also accepted). Rows keep file order.
pub fn read_sites_csv(path: &Path) -> Result<Vec<(f64, f64)>, ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::File { path: name.clone(), message: format!("cannot read site file: {e}") })?;
    parse_sites_csv(&text, &name)
}

/// Parse site-file text; `name` is used in error messages. RFC 4180
/// quoting (the `csv` crate): fields may hold commas and quotes.
pub fn parse_sites_csv(text: &str, name: &str) -> Result<Vec<(f64, f64)>, ConfigError> {
    let name = name.to_string();
    let mut rd = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(text.as_bytes());
    let cols = crate::error::csv_header(&mut rd, &name)?;
    if cols.iter().all(|c| c.is_empty()) {
        return Err(ConfigError::File {
            path: name,
            message: "empty site file; expected a CSV header with LATITUDE,LONGITUDE".into(),
        });
    }
    let find = |a: &str, b: &str| cols.iter().position(|c| c == a || c == b);
    let (Some(ilat), Some(ilon)) = (find("latitude", "lat"), find("longitude", "lon")) else {
        return Err(ConfigError::Line {
            path: name,
            line: 1,
            message: "expected columns LATITUDE and LONGITUDE in the header".into(),
        });
    };
    let mut out = Vec::new();
    for row in rd.records() {
        let f = row.map_err(|e| crate::error::csv_error(&name, e))?;
        let line = f.position().map_or(0, |p| p.line() as usize);
        if f.len() == 1 && f[0].trim().is_empty() {
            continue;
        }
        let get = |k: usize, what: &str| -> Result<f64, ConfigError> {
            let raw = f.get(k).map(|s| s.trim()).unwrap_or("");
            let v: f64 = raw.parse().map_err(|_| ConfigError::Line {
                path: name.clone(),
                line,
                message: format!("{what} `{raw}` is not a number"),
            })?;
            let lim = if what == "latitude" { 90.0 } else { 180.0 };
            if !v.is_finite() || v.abs() > lim {
                return Err(ConfigError::Line {
                    path: name.clone(),
                    line,
                    message: format!("{what} {raw} outside [-{lim}, {lim}]"),
                });
            }
            Ok(v)
        };
        out.push((get(ilat, "latitude")?, get(ilon, "longitude")?));
    }
    if out.is_empty() {
        return Err(ConfigError::File { path: name, message: "no site rows after the header".into() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_millidegree_of_latitude_is_111_m() {
        let p = project(-37.814, 144.96, (-37.815, 144.96));
        assert!((p[1] - 111.19).abs() < 0.05, "{p:?}");
        assert!(p[0].abs() < 1e-9);
        // Longitude shrinks with cos(latitude).
        let q = project(-37.815, 144.961, (-37.815, 144.96));
        assert!((q[0] - 111.19 * (-37.815f64).to_radians().cos()).abs() < 0.05, "{q:?}");
    }

    #[test]
    fn quoted_fields_keep_commas() {
        let sites = parse_sites_csv("NAME,LATITUDE,LONGITUDE\n\"a, \"\"b\"\"\",-37.8,144.9\n", "q").unwrap();
        assert_eq!(sites, vec![(-37.8, 144.9)]);
    }

    #[test]
    fn bad_row_names_the_line() {
        let dir = std::env::temp_dir().join(format!("eb-geo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("s.csv");
        std::fs::write(&f, "SITE,LATITUDE,LONGITUDE\n1,-37.8,144.9\n2,abc,144.9\n").unwrap();
        let e = read_sites_csv(&f).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("latitude"), "{e}");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn builtin_eua_sites_span_the_melbourne_cbd() {
        let sites = parse_sites_csv(builtin_sites("eua-melbcbd-sites.csv").unwrap(), "eua").unwrap();
        assert_eq!(sites.len(), 125);
        let p = project_sites(&sites, 100.0);
        // The CBD grid is about 2 km across; with 100 m margins the area is a few km per side.
        assert!(p.area[0] > 1000.0 && p.area[0] < 5000.0 && p.area[1] > 1000.0 && p.area[1] < 5000.0, "{:?}", p.area);
        assert!(p
            .positions
            .iter()
            .all(|q| q[0] >= 100.0 - 1e-6 && q[1] >= 100.0 - 1e-6 && q[0] <= p.area[0] && q[1] <= p.area[1]));
    }
}
