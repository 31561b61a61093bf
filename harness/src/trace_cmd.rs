//! `edgebench trace import | gen | info`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;

use scenarios::schema::MobilityModel;
use scenarios::trace::TraceFormat;

use crate::error::BadInput;
use crate::tracefile::{self, GenArgs};

/// `edgebench trace …` (clap subcommands).
#[derive(clap::Subcommand)]
pub enum TraceAction {
    /// Import a trace (SUMO FCD XML, BonnMotion .movements[.gz], CSV t,id,x,y or t,id,lat,lon) into a canonical trace.
    Import {
        /// Input file.
        input: PathBuf,
        /// The input's format [default: guessed from the content].
        #[arg(long, value_enum)]
        format: Option<TraceFormat>,
        /// SUMO FCD written with --fcd-output.geo: x and y hold longitude and latitude.
        #[arg(long)]
        geo: bool,
        /// Output: .parquet (canonical), .csv or .csv.gz.
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
    },
    /// Generate a trace with a built-in mobility model.
    Gen {
        /// random-waypoint, gauss-markov or manhattan.
        #[arg(long)]
        model: String,
        /// Number of terminals.
        #[arg(long)]
        terminals: usize,
        /// Number of slots (positions per terminal).
        #[arg(long)]
        slots: usize,
        /// Slot length, s.
        #[arg(long, default_value_t = 1.0)]
        slot_s: f64,
        /// Seed of the mobility draws.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Area width,height in metres.
        #[arg(long, value_delimiter = ',', default_values_t = [800.0, 800.0])]
        area: Vec<f64>,
        /// Speed range low,high in m/s.
        #[arg(long, value_delimiter = ',')]
        speed: Vec<f64>,
        /// Random waypoint pause range low,high in s.
        #[arg(long, value_delimiter = ',')]
        pause: Vec<f64>,
        /// Gauss–Markov memory α in [0, 1).
        #[arg(long)]
        alpha: Option<f64>,
        /// Manhattan block length, m.
        #[arg(long)]
        block: Option<f64>,
        /// Manhattan turn probability.
        #[arg(long)]
        turn_prob: Option<f64>,
        /// Output: .parquet (canonical), .csv or .csv.gz.
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
    },
    /// Terminals, duration, bounding box, speeds and presence of a trace.
    Info {
        file: PathBuf,
        /// Slot length used for the presence share, s.
        #[arg(long, default_value_t = 1.0)]
        slot_s: f64,
    },
}

fn pair(flag: &str, v: &[f64]) -> Result<Option<[f64; 2]>, BadInput> {
    match v {
        [] => Ok(None),
        [a, b] => Ok(Some([*a, *b])),
        _ => Err(BadInput(format!("{flag}: expected two comma-separated numbers low,high, got {} values", v.len()))),
    }
}

fn check_out(out: &std::path::Path) -> Result<(), BadInput> {
    let n = out.to_string_lossy();
    if n.ends_with(".parquet") || n.ends_with(".csv") || n.ends_with(".csv.gz") {
        Ok(())
    } else {
        Err(BadInput(format!("-o {n}: expected a name ending in .parquet, .csv or .csv.gz")))
    }
}

pub fn run(action: TraceAction) -> Result<()> {
    match action {
        TraceAction::Import { input, format, geo, out } => {
            check_out(&out)?;
            let started = Instant::now();
            let raw = tracefile::load_trace(&input, format, geo).map_err(BadInput::from)?;
            let secs = started.elapsed().as_secs_f64();
            tracefile::write_trace(&raw, &out)?;
            eprintln!(
                "edgebench: imported {} records of {} terminals from {} in {:.2} s ({:.0} records/s) into {}",
                raw.records.len(),
                raw.ids.len(),
                input.display(),
                secs,
                raw.records.len() as f64 / secs.max(1e-9),
                out.display()
            );
            Ok(())
        }
        TraceAction::Gen {
            model,
            terminals,
            slots,
            slot_s,
            seed,
            area,
            speed,
            pause,
            alpha,
            block,
            turn_prob,
            out,
        } => {
            check_out(&out)?;
            let model = match model.as_str() {
                "random-waypoint" => MobilityModel::RandomWaypoint,
                "gauss-markov" => MobilityModel::GaussMarkov,
                "manhattan" => MobilityModel::Manhattan,
                m => {
                    return Err(BadInput(format!(
                        "--model: expected random-waypoint, gauss-markov or manhattan, got `{m}`"
                    ))
                    .into())
                }
            };
            if terminals == 0 || slots == 0 {
                return Err(BadInput("--terminals and --slots: expected positive integers".into()).into());
            }
            let area = pair("--area", &area)?.ok_or_else(|| BadInput("--area: expected width,height".into()))?;
            let args = GenArgs {
                model,
                terminals,
                slots,
                slot_s,
                seed,
                area,
                speed: pair("--speed", &speed)?,
                pause: pair("--pause", &pause)?,
                alpha,
                block,
                turn_prob,
            };
            let raw = tracefile::generate(&args)?;
            tracefile::write_trace(&raw, &out)?;
            eprintln!("edgebench: wrote {} records of {terminals} terminals to {}", raw.records.len(), out.display());
            Ok(())
        }
        TraceAction::Info { file, slot_s } => {
            if !(slot_s.is_finite() && slot_s > 0.0) {
                return Err(BadInput(format!("--slot-s: expected a positive number, got {slot_s}")).into());
            }
            let raw = tracefile::load_trace(&file, None, false).map_err(BadInput::from)?;
            let i = tracefile::info(&raw, slot_s);
            println!("file            {}", file.display());
            println!("terminals       {}", i.terminals);
            println!("records         {}", i.records);
            println!("duration        {:.1} s ({} slots of {slot_s} s)", i.duration_s, i.slots);
            println!(
                "bounding box    x {:.1} .. {:.1} m, y {:.1} .. {:.1} m ({:.0} × {:.0} m)",
                i.bbox[0],
                i.bbox[2],
                i.bbox[1],
                i.bbox[3],
                i.bbox[2] - i.bbox[0],
                i.bbox[3] - i.bbox[1]
            );
            println!("speed           mean {:.2} m/s, p95 {:.2} m/s", i.speed_mean, i.speed_p95);
            println!("present         {:.1} % of terminal-slots", 100.0 * i.present_share);
            if let Some((lat, lon)) = raw.origin {
                println!("origin          lat {lat:.6}, lon {lon:.6} (projected about it)");
            }
            Ok(())
        }
    }
}
