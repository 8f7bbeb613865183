//! [`export_safetensors`]: a run's trained weights for other tools (`bimt export`, the Python
//! package's `Run.save_safetensors`).

use crate::error::Error;
use bimt_format::ModelFile;
use std::path::Path;

/// Writes the parameters of the run directory `run` (its `model.json`) to the safetensors file
/// `out` (see [`ModelFile::write_safetensors`]) and returns how many tensors it holds.
///
/// # Errors
///
/// `model.json` that does not read ([`Error::File`]), an `out` that is one of the run's own
/// files ([`Error::Settings`]: writing there would destroy it), and a file that cannot be
/// written.
pub fn export_safetensors(run: &Path, out: &Path) -> Result<usize, Error> {
    let model = ModelFile::read(&run.join("model.json"))?;
    if let (Ok(target), Ok(dir)) = (out.canonicalize(), run.canonicalize())
        && target.parent() == Some(dir.as_path())
        && target.extension().is_some_and(|e| e != "safetensors")
    {
        return Err(Error::Settings(format!(
            "{} is one of the run's own files; write the weights to a .safetensors file \
             elsewhere",
            out.display()
        )));
    }
    model.write_safetensors(out)?;
    Ok(model.tensors().len())
}
