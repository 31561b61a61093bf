// The module links libtorch (the `dppo` policy); record where it is, so that
// `import edgebench` finds it without LD_LIBRARY_PATH (the same libtorch that
// `import torch` loads from the project's venv).
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(dir) = std::env::var("LIBTORCH") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}/lib");
    }
}
