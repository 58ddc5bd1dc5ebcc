//! Walking a model's tensors by name: optimisers, saving and loading use this.
//!
//! dfdx's `TensorCollection` can only describe compile-time shapes (its `TensorOptions`
//! constructors require `ConstShape`), and our backbone's shape is chosen at run time, so our
//! models expose their tensors through this small visitor instead.

use std::path::Path;

use ::safetensors::tensor::{Dtype as SDtype, TensorView};
use dfdx::prelude::*;

use super::error::ModelError;

/// Receives each tensor of a model with its dotted name.
pub trait ParamVisitor<D: Device<f32>> {
    /// `trainable` is false for buffers such as BatchNorm running statistics.
    fn visit<S: Shape>(&mut self, name: &str, tensor: &mut Tensor<S, f32, D>, trainable: bool);
}

/// Something made of named tensors.
pub trait Params<D: Device<f32>> {
    fn visit_params<V: ParamVisitor<D>>(&mut self, visitor: &mut V);

    /// Total number of trainable scalars.
    fn num_trainable(&mut self) -> usize {
        struct Count(usize);
        impl<D: Device<f32>> ParamVisitor<D> for Count {
            fn visit<S: Shape>(&mut self, _: &str, t: &mut Tensor<S, f32, D>, trainable: bool) {
                if trainable {
                    self.0 += t.shape().num_elements();
                }
            }
        }
        let mut c = Count(0);
        self.visit_params(&mut c);
        c.0
    }

    /// Writes every tensor (trainable or not) to a `.safetensors` file.
    fn save_safetensors(&mut self, path: &Path) -> Result<(), ModelError> {
        struct Collect(Vec<(String, Vec<usize>, Vec<u8>)>);
        impl<D: Device<f32>> ParamVisitor<D> for Collect {
            fn visit<S: Shape>(&mut self, name: &str, t: &mut Tensor<S, f32, D>, _: bool) {
                let bytes = t.as_vec().iter().flat_map(|v| v.to_le_bytes()).collect();
                self.0
                    .push((name.to_string(), t.shape().concrete().into(), bytes));
            }
        }
        let mut c = Collect(Vec::new());
        self.visit_params(&mut c);
        let views: Vec<(String, TensorView<'_>)> =
            c.0.iter()
                .map(|(n, shape, bytes)| {
                    let view = TensorView::new(SDtype::F32, shape.clone(), bytes).map_err(|e| {
                        ModelError::Save {
                            path: path.to_path_buf(),
                            message: format!("{n}: {e:?}"),
                        }
                    })?;
                    Ok((n.clone(), view))
                })
                .collect::<Result<_, ModelError>>()?;
        let bytes = ::safetensors::serialize(views, &None).map_err(|e| ModelError::Save {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        replace_file(path, &bytes).map_err(|e| ModelError::Save {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Loads every tensor from a `.safetensors` file written by [`Params::save_safetensors`].
    fn load_safetensors(&mut self, path: &Path) -> Result<(), ModelError>
    where
        D: CopySlice<f32>,
    {
        let fail = |message: String| ModelError::Load {
            path: path.to_path_buf(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let st = ::safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| fail(format!("not a safetensors file: {e:?}")))?;
        struct Load<'a>(&'a ::safetensors::SafeTensors<'a>, Vec<String>);
        impl<D: Device<f32> + CopySlice<f32>> ParamVisitor<D> for Load<'_> {
            fn visit<S: Shape>(&mut self, name: &str, t: &mut Tensor<S, f32, D>, _: bool) {
                if let Err(e) = t.load_safetensor(self.0, name) {
                    self.1.push(format!("{name}: {e:?}"));
                }
            }
        }
        let mut l = Load(&st, Vec::new());
        self.visit_params(&mut l);
        if l.1.is_empty() {
            Ok(())
        } else {
            Err(fail(l.1.join("; ")))
        }
    }
}

/// Replaces `path` with `bytes` so that no reader ever sees a cut file: a temp file in the same
/// folder, written and fsynced, renamed over `path`, the folder fsynced. On any error (a full
/// disk) the temp file is removed and `path` is left as it was (absent, for a new run).
fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
