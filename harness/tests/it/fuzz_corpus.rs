//! Replays the fuzzers' corpus (fuzz/corpus/<target>/: the seeds and what
//! cargo-fuzz kept) and the inputs that once broke a parser
//! (fuzz/found/<target>/) through every target of `harness::fuzz::TARGETS`:
//! no panic, every error one line naming the input.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut v: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    v.sort();
    v
}

/// Targets of this build (the checkpoint ones need `dppo`).
fn built(name: &str) -> bool {
    harness::fuzz::target(name).is_some() || (name.starts_with("checkpoint_") && !cfg!(feature = "dppo"))
}

#[test]
fn every_corpus_folder_names_a_target_and_every_target_has_a_corpus() {
    for kind in ["corpus", "found"] {
        for entry in std::fs::read_dir(fuzz_dir().join(kind)).unwrap() {
            let entry = entry.unwrap();
            if !entry.path().is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_string();
            assert!(built(&name), "fuzz/{kind}/{name} names no fuzz target");
        }
    }
    for (name, _) in harness::fuzz::TARGETS {
        assert!(!files(&fuzz_dir().join("corpus").join(name)).is_empty(), "fuzz/corpus/{name} is empty");
    }
}

#[test]
fn the_corpus_and_the_found_cases_replay_cleanly() {
    let mut replayed = 0;
    for (name, target) in harness::fuzz::TARGETS {
        for kind in ["corpus", "found"] {
            for file in files(&fuzz_dir().join(kind).join(name)) {
                let data = std::fs::read(&file).unwrap();
                let outcome = std::panic::catch_unwind(|| target(&data));
                assert!(outcome.is_ok(), "fuzz target {name} broke on {}", file.display());
                replayed += 1;
            }
        }
    }
    assert!(replayed >= harness::fuzz::TARGETS.len());
    eprintln!("replayed {replayed} inputs");
}
