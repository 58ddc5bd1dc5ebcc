//! Opening the CUDA device, what it has free, and CUDA failures as errors that say what
//! happened and where.

use super::error::ModelError;
use crate::config::Config;

/// Bytes free on the device `dev` stands for, as its driver reports them: `None` for the CPU
/// (and when the driver cannot tell).
pub fn free_bytes<D: 'static>(dev: &D) -> Option<u64> {
    #[cfg(feature = "cuda")]
    if (dev as &dyn std::any::Any).is::<dfdx::prelude::Cuda>() {
        return cuda_memory().ok().map(|(free, _)| free);
    }
    let _ = dev;
    None
}

/// Images per evaluation pass on `dev`: on the CPU [`super::memory::eval_chunk`] (a stop is
/// noticed within about a second); on CUDA as many as half the device's free memory holds,
/// capped ([`super::memory::eval_chunk_gpu`]). Ask once per seed, before its first
/// evaluation: each chunk size gets index tables of its own, kept on the device.
pub fn eval_chunk<D: 'static>(dev: &D, config: &Config, input: (usize, usize, usize)) -> usize {
    match free_bytes(dev) {
        Some(free) => super::memory::eval_chunk_gpu(config, input, free),
        None => super::memory::eval_chunk(config, input),
    }
}

#[cfg(feature = "cuda")]
fn driver_error<E: std::fmt::Debug>(doing: &str, e: E) -> ModelError {
    let text = format!("{e:?}");
    ModelError::Device {
        message: describe_cuda_failure(&text)
            .map(|d| format!("{d} ({doing})"))
            .unwrap_or_else(|| format!("cuda: {doing} failed: {text}")),
    }
}

/// Initialises the driver and finds device 0 (cudarc would unwrap these errors into a panic).
#[cfg(feature = "cuda")]
fn first_device() -> Result<cudarc::driver::sys::CUdevice, ModelError> {
    use cudarc::driver::result;
    result::init().map_err(|e| driver_error("initialising the NVIDIA driver", e))?;
    let count = result::device::get_count().map_err(|e| driver_error("counting devices", e))?;
    if count < 1 {
        return Err(ModelError::Device {
            message: "cuda: no CUDA device found (the driver reports 0 devices) \
                      [CUDA_ERROR_NO_DEVICE]"
                .into(),
        });
    }
    result::device::get(0).map_err(|e| driver_error("opening CUDA device 0", e))
}

/// Opens CUDA device 0 with its RNG seeded, after dropping this thread's cached index tables
/// (they belong to the previous device instance).
#[cfg(feature = "cuda")]
pub fn open_cuda(seed: u64) -> Result<dfdx::prelude::Cuda, ModelError> {
    first_device()?;
    super::ops::tables::forget();
    dfdx::prelude::Cuda::try_seed_from_u64(seed)
        .map_err(|e| driver_error("opening CUDA device 0", e))
}

/// Free and total memory of CUDA device 0, in bytes, as its driver reports them.
#[cfg(feature = "cuda")]
pub fn cuda_memory() -> Result<(u64, u64), ModelError> {
    use cudarc::driver::result;
    let dev = first_device()?;
    // SAFETY: the primary context is retained for the query and released after it; making it
    // current on this thread is what every CUDA call on the thread needs anyway.
    unsafe {
        let ctx = result::primary_ctx::retain(dev)
            .map_err(|e| driver_error("creating a context on CUDA device 0", e))?;
        let info = result::ctx::set_current(ctx)
            .and_then(|_| result::mem_get_info())
            .map_err(|e| driver_error("asking CUDA device 0 for its free memory", e));
        let _ = result::primary_ctx::release(dev);
        let (free, total) = info?;
        Ok((free as u64, total as u64))
    }
}

/// Without the `cuda` feature there is no CUDA device to ask.
#[cfg(not(feature = "cuda"))]
pub fn cuda_memory() -> Result<(u64, u64), ModelError> {
    match open_cuda(0)? {}
}

/// Without the `cuda` feature there is no CUDA device to open.
#[cfg(not(feature = "cuda"))]
pub fn open_cuda(_seed: u64) -> Result<std::convert::Infallible, ModelError> {
    Err(ModelError::Device {
        message: "cuda: this adalab was built without the `cuda` feature (build it with \
                  `cargo build --release --features cuda` where CUDA is installed, or with \
                  scripts/cuda-build.sh)"
            .into(),
    })
}

/// What a CUDA failure means for the user, from the text of a dfdx/cudarc error or of the
/// panic a CUDA error became inside dfdx (its infallible ops unwrap): `None` when the text
/// shows no CUDA error.
pub fn describe_cuda_failure(text: &str) -> Option<String> {
    let code = ["CUDA_ERROR_", "CUBLAS_STATUS_", "NVRTC_ERROR_"]
        .iter()
        .find_map(|prefix| {
            let at = text.find(prefix)?;
            let code: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            Some(code)
        })?;
    let what = match code.as_str() {
        "CUDA_ERROR_NO_DEVICE" => "no CUDA device found (is this a GPU machine? check nvidia-smi)",
        "CUDA_ERROR_OUT_OF_MEMORY" | "CUBLAS_STATUS_ALLOC_FAILED" => {
            "out of GPU memory (lower train.batch_size or the model's widths)"
        }
        "CUDA_ERROR_INSUFFICIENT_DRIVER" | "CUDA_ERROR_UNSUPPORTED_PTX_VERSION" => {
            "the NVIDIA driver is too old for this build (CUDA 13.0 needs driver 580 or newer)"
        }
        "CUDA_ERROR_NOT_INITIALIZED" | "CUDA_ERROR_INVALID_DEVICE" => {
            "the CUDA device could not be used"
        }
        "CUDA_ERROR_NO_BINARY_FOR_GPU" | "CUDA_ERROR_INVALID_PTX" => {
            "the GPU cannot run this build's kernels (rebuild for its compute capability: \
             ADALAB_CUDA_CAP=8.0 scripts/cuda-build.sh, for example)"
        }
        _ => "CUDA failed",
    };
    Some(format!("cuda: {what} [{code}]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_failures_are_named() {
        let no_device =
            r#"Driver(DriverError(CUDA_ERROR_NO_DEVICE, "no CUDA-capable device is detected"))"#;
        let d = describe_cuda_failure(no_device).unwrap();
        assert!(d.starts_with("cuda: no CUDA device found"), "{d}");
        assert!(d.ends_with("[CUDA_ERROR_NO_DEVICE]"), "{d}");
        let oom = "called `Result::unwrap()` on an `Err` value: Driver(DriverError(CUDA_ERROR_OUT_OF_MEMORY, \"out of memory\"))";
        assert!(describe_cuda_failure(oom)
            .unwrap()
            .contains("out of GPU memory"));
        let blas = "Blas(CublasError(CUBLAS_STATUS_EXECUTION_FAILED))";
        assert_eq!(
            describe_cuda_failure(blas).unwrap(),
            "cuda: CUDA failed [CUBLAS_STATUS_EXECUTION_FAILED]"
        );
        assert_eq!(describe_cuda_failure("index out of bounds"), None);
    }

    #[test]
    fn the_cpu_evaluates_in_the_chunks_it_always_did() {
        let dev = dfdx::prelude::Cpu::default();
        assert_eq!(free_bytes(&dev), None);
        let c = Config::default();
        assert_eq!(
            eval_chunk(&dev, &c, (1, 28, 28)),
            super::super::memory::eval_chunk(&c, (1, 28, 28))
        );
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn without_the_feature_opening_cuda_says_how_to_build_it() {
        let e = open_cuda(0).unwrap_err();
        assert_eq!(e.key(), Some("train.device"));
        assert!(e.to_string().contains("scripts/cuda-build.sh"), "{e}");
    }
}
