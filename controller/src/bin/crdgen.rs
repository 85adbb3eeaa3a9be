//! Prints the SealedSecret CustomResourceDefinition generated from the Rust types.
//!
//! `cargo run -p seal-controller --bin crdgen > controller/deploy/crd.yaml`; CI fails when the
//! committed file differs.
use seal_api::{Format, crd, to_value, write_document};

fn main() -> anyhow::Result<()> {
    let crd = to_value(&crd())?;
    print!("{}", write_document(&crd, Format::Yaml));
    Ok(())
}
