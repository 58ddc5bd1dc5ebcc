//! Opening the CUDA device, and CUDA failures as errors that say what happened and where.

use super::error::ModelError;

/// Opens CUDA device 0 with its RNG seeded, after dropping this thread's cached index tables
/// (they belong to the previous device instance).
#[cfg(feature = "cuda")]
pub fn open_cuda(seed: u64) -> Result<dfdx::prelude::Cuda, ModelError> {
    super::ops::tables::forget();
    dfdx::prelude::Cuda::try_seed_from_u64(seed).map_err(|e| ModelError::Device {
        message: describe_cuda_failure(&format!("{e:?}"))
            .unwrap_or_else(|| format!("cuda: cannot open CUDA device 0: {e:?}")),
    })
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

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn without_the_feature_opening_cuda_says_how_to_build_it() {
        let e = open_cuda(0).unwrap_err();
        assert_eq!(e.key(), Some("train.device"));
        assert!(e.to_string().contains("scripts/cuda-build.sh"), "{e}");
    }
}
