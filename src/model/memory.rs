//! Whether a model can be built for a dataset, and about how much memory training it takes.
//!
//! The estimate is deliberately generous (it counts every buffer a training step and an
//! evaluation pass hold at once, as the CPU ops allocate them); it exists to refuse configs
//! that cannot fit, with the numbers, before a run starts.

use super::error::ModelError;
use super::head::check_head;
use super::net::feature_shape;
use crate::config::Config;

/// Images per forward pass when computing embeddings for evaluation, at most.
pub const EVAL_BATCH: usize = 250;
/// Multiply-adds one evaluation pass may take before the cancel flag is looked at again: about
/// a second of work on two cores.
const EVAL_WORK: u64 = 2_000_000_000;
/// Images per evaluation pass on a GPU, at most.
pub const EVAL_BATCH_GPU: usize = 4096;
/// Multiply-adds one evaluation pass on a GPU may take: a small fraction of a second on one.
const EVAL_WORK_GPU: u64 = 100 * EVAL_WORK;

/// Multiply-adds of one image's forward pass (convolutions, embedding layer, head).
pub fn macs_per_image(config: &Config, input: (usize, usize, usize), classes: usize) -> u64 {
    let (layers, (c, h, w)) = conv_layers(config, input);
    let convs: u64 = layers.iter().map(|l| l.cin * l.cout * 9 * l.h * l.w).sum();
    let d = config.model.embedding_dim as u64;
    convs + c * h * w * d + d * classes as u64
}

/// Images per evaluation pass for this model: [`EVAL_BATCH`], fewer for large models, so that a
/// stop is noticed within about a second of work.
pub fn eval_chunk(config: &Config, input: (usize, usize, usize)) -> usize {
    let macs = macs_per_image(config, input, 0).max(1);
    ((EVAL_WORK / macs) as usize).clamp(8, EVAL_BATCH)
}

/// Images per evaluation pass on a GPU with `free` bytes free (from its driver): as many as
/// half of that holds at [`gpu_bytes_per_image`] (a training step's needs, more than a pass
/// without gradients holds), at most [`EVAL_BATCH_GPU`] and about [`EVAL_WORK_GPU`]
/// multiply-adds, at least one.
pub fn eval_chunk_gpu(config: &Config, input: (usize, usize, usize), free: u64) -> usize {
    let fit = free / 2 / gpu_bytes_per_image(config, input).max(1);
    let work = EVAL_WORK_GPU / macs_per_image(config, input, 0).max(1);
    (fit.min(work) as usize).clamp(1, EVAL_BATCH_GPU)
}

/// Trainable scalars of the backbone and head.
pub fn parameter_count(config: &Config, input: (usize, usize, usize), classes: usize) -> u64 {
    let m = &config.model;
    let mut cin = input.0 as u64;
    let mut n = 0u64;
    for &w in &m.widths {
        for _ in 0..m.convs_per_stage {
            n += cin * w as u64 * 9 + 2 * w as u64;
            cin = w as u64;
        }
    }
    let flat = feature_shape(&config.model, input)
        .map(|(c, h, w)| (c * h * w) as u64)
        .unwrap_or(0);
    let d = m.embedding_dim as u64;
    n + flat * d + d + d * classes as u64 + classes as u64
}

/// One 3×3 conv of the backbone: input channels, output channels and output size.
struct ConvLayer {
    cin: u64,
    cout: u64,
    h: u64,
    w: u64,
}

/// The backbone's convs for images of `input`, and the feature map it ends with (c, h, w).
fn conv_layers(config: &Config, input: (usize, usize, usize)) -> (Vec<ConvLayer>, (u64, u64, u64)) {
    let m = &config.model;
    let (mut c, mut h, mut w) = (input.0 as u64, input.1 as u64, input.2 as u64);
    let shrink = if m.padding == 1 { 0 } else { 2 };
    let mut layers = Vec::new();
    for &width in &m.widths {
        for _ in 0..m.convs_per_stage {
            h = h.saturating_sub(shrink);
            w = w.saturating_sub(shrink);
            layers.push(ConvLayer {
                cin: c,
                cout: width as u64,
                h,
                w,
            });
            c = width as u64;
        }
        h /= 2;
        w /= 2;
    }
    (layers, (c, h, w))
}

/// Floats one image keeps alive through a forward and backward pass (im2col columns, conv,
/// BatchNorm and pooled outputs, and their gradients).
fn activation_floats(config: &Config, input: (usize, usize, usize)) -> u64 {
    let (layers, _) = conv_layers(config, input);
    let per_conv: u64 = layers
        .iter()
        .map(|l| l.cin * 9 * l.h * l.w + 4 * l.cout * l.h * l.w)
        .sum();
    // Each stage's pooled output and its gradient (after the stage's last conv).
    let per_stage = config.model.convs_per_stage.max(1);
    let pooled: u64 = layers
        .iter()
        .skip(per_stage - 1)
        .step_by(per_stage)
        .map(|l| 2 * l.cout * (l.h / 2) * (l.w / 2))
        .sum();
    per_conv + pooled + 4 * config.model.embedding_dim as u64
}

/// Checks that the model can be built for images of `input` and `classes` training classes,
/// and returns about how many bytes training it (and holding the split) needs on the CPU.
pub fn check(
    config: &Config,
    input: (usize, usize, usize),
    classes: usize,
    images: u64,
) -> Result<u64, ModelError> {
    feature_shape(&config.model, input)?;
    check_head(&config.head, classes)?;
    let batch = config.train.batch_size.max(EVAL_BATCH) as u64;
    let act_bytes = activation_floats(config, input) * batch * 4;
    Ok(param_bytes(config, input, classes) + act_bytes + data_bytes(input, images))
}

/// Weights, their gradients (and the backward pass's temporary for them), two Adam moments
/// and the update's temporaries: seven copies. (1024 channels into a 4096-dimensional
/// embedding, 0.8 G parameters, was seen to exhaust 24 GiB.)
fn param_bytes(config: &Config, input: (usize, usize, usize), classes: usize) -> u64 {
    parameter_count(config, input, classes) * 4 * 7
}

/// The dataset as bytes plus the split as f32.
fn data_bytes(input: (usize, usize, usize), images: u64) -> u64 {
    images * (input.0 * input.1 * input.2) as u64 * 5
}

/// Host memory a CUDA run needs: the data and the model's host copies (its activations live
/// on the GPU, see [`gpu_bytes`]).
pub fn host_bytes_cuda(
    config: &Config,
    input: (usize, usize, usize),
    classes: usize,
    images: u64,
) -> u64 {
    parameter_count(config, input, classes) * 4 + data_bytes(input, images)
}

/// About how many bytes of GPU memory a CUDA training step (or evaluation chunk) of the
/// generic path holds at once, generously: the parameters' seven copies and
/// [`gpu_bytes_per_image`] for each image of the larger of the batch and [`EVAL_BATCH`].
pub fn gpu_bytes(config: &Config, input: (usize, usize, usize), classes: usize) -> u64 {
    let batch = config.train.batch_size.max(EVAL_BATCH) as u64;
    param_bytes(config, input, classes) + gpu_bytes_per_image(config, input) * batch
}

/// GPU memory one image of a training step of the generic path holds: per conv the im2col
/// matrix and its gradient (f32) with its index table (8-byte indices, cached per shape), the
/// conv output through GEMM, reorder, BatchNorm and pooling with their gradients, and the
/// pooling windows with their table.
pub fn gpu_bytes_per_image(config: &Config, input: (usize, usize, usize)) -> u64 {
    let (layers, _) = conv_layers(config, input);
    layers
        .iter()
        .map(|l| {
            let cols = l.cin * 9 * l.h * l.w;
            let out = l.cout * l.h * l.w;
            let padded = if config.model.padding == 1 {
                2 * l.cin * (l.h * l.w) * 8
            } else {
                0
            };
            cols * (4 + 4 + 8) + out * (12 * 4 + 8) + out * (4 + 8) + padded
        })
        .sum::<u64>()
        + 4 * config.model.embedding_dim as u64 * 4
}

/// Refuses a CUDA run whose [`gpu_bytes`] exceed 90% of the device's `free` bytes.
pub fn check_gpu(
    config: &Config,
    input: (usize, usize, usize),
    classes: usize,
    free: u64,
) -> Result<u64, ModelError> {
    let need = gpu_bytes(config, input, classes);
    if need > free / 10 * 9 {
        return Err(ModelError::GpuMemory {
            need,
            free,
            batch: config.train.batch_size,
        });
    }
    Ok(need)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_default_net() {
        let c = Config::default();
        // conv 1→32 (288 + 64), conv 32→64 (18432 + 128), linear 3136·128 + 128, head 128·9.
        let n = parameter_count(&c, (1, 28, 28), 9);
        assert_eq!(n, 288 + 64 + 18432 + 128 + 3136 * 128 + 128 + 128 * 9 + 9);
        let bytes = check(&c, (1, 28, 28), 9, 60_000).unwrap();
        assert!(bytes < 1 << 30, "{bytes}");
    }

    #[test]
    fn a_huge_model_needs_many_gigabytes() {
        let mut c = Config::default();
        c.model.widths = vec![1024];
        c.model.embedding_dim = 4096;
        let bytes = check(&c, (1, 28, 28), 9, 60_000).unwrap();
        // 1024·14·14·4096 weights alone are 3.3 GB; training takes seven copies.
        assert!(bytes > 24 << 30, "{bytes}");
    }

    #[test]
    fn large_models_evaluate_in_smaller_chunks() {
        let c = Config::default();
        assert_eq!(eval_chunk(&c, (1, 28, 28)), EVAL_BATCH);
        let mut big = Config::default();
        big.model.widths = vec![512, 1024];
        big.model.embedding_dim = 1024;
        assert_eq!(eval_chunk(&big, (1, 28, 28)), 8);
        // conv 1→32 at 28×28, conv 32→64 at 14×14, 64·7·7 → 128.
        assert_eq!(
            macs_per_image(&c, (1, 28, 28), 9),
            32 * 9 * 784 + 32 * 64 * 9 * 196 + 3136 * 128 + 128 * 9
        );
    }

    #[test]
    fn gpu_memory_is_checked_against_the_free_memory_naming_the_batch_size() {
        let mut c = Config::default();
        let need = gpu_bytes(&c, (1, 28, 28), 9);
        assert!(need > 1 << 20 && need < 2 << 30, "{need}");
        assert_eq!(check_gpu(&c, (1, 28, 28), 9, 80 << 30).unwrap(), need);
        let e = check_gpu(&c, (1, 28, 28), 9, need).unwrap_err();
        assert_eq!(e.key(), Some("train.batch_size"));
        assert!(e.to_string().contains("GPU memory"), "{e}");
        // Activations grow with the batch.
        c.train.batch_size = 4 * EVAL_BATCH;
        assert!(gpu_bytes(&c, (1, 28, 28), 9) > 3 * need / 2);
        // A CUDA run keeps its activations off the host.
        assert!(
            host_bytes_cuda(&c, (1, 28, 28), 9, 60_000)
                < check(&c, (1, 28, 28), 9, 60_000).unwrap()
        );
    }

    #[test]
    fn gpu_evaluation_chunks_follow_the_free_memory_within_the_caps() {
        let c = Config::default();
        let per = gpu_bytes_per_image(&c, (1, 28, 28));
        // 100 images' worth free: half of it is used.
        assert_eq!(eval_chunk_gpu(&c, (1, 28, 28), 100 * per), 50);
        // An 80 GB GPU: the cap.
        assert_eq!(eval_chunk_gpu(&c, (1, 28, 28), 80 << 30), EVAL_BATCH_GPU);
        // Nothing free: still one image per pass.
        assert_eq!(eval_chunk_gpu(&c, (1, 28, 28), 0), 1);
        // A model whose pass is heavy is cut by the work per pass, as on the CPU.
        let mut big = Config::default();
        big.model.widths = vec![512, 1024];
        big.model.embedding_dim = 1024;
        let chunk = eval_chunk_gpu(&big, (1, 28, 28), 80 << 30);
        assert!(chunk < EVAL_BATCH_GPU, "{chunk}");
        assert_eq!(
            chunk as u64,
            EVAL_WORK_GPU / macs_per_image(&big, (1, 28, 28), 0)
        );
        // The training estimate is the per-image one times the batch, plus the parameters.
        let need = gpu_bytes(&c, (1, 28, 28), 9);
        assert_eq!(
            need,
            param_bytes(&c, (1, 28, 28), 9) + per * c.train.batch_size.max(EVAL_BATCH) as u64
        );
    }

    #[test]
    fn shapes_and_heads_are_checked() {
        let mut c = Config::default();
        c.model.widths = vec![8, 8, 8, 8];
        c.model.padding = 0;
        assert_eq!(
            check(&c, (1, 28, 28), 9, 1).unwrap_err().key(),
            Some("model.widths")
        );
        let c = Config::default();
        assert_eq!(
            check(&c, (1, 28, 28), 2, 1).unwrap_err().key(),
            Some("head.kind")
        );
    }
}
