//! The bench net: training and inference speed after warm-up (`adalab bench` prints it).
//!
//! The bench net is Conv(in→32, 3×3, no pad, no bias)+BN+ReLU+MaxPool2 → Conv(32→64, 3×3)+BN+
//! ReLU+MaxPool2 → flatten → Linear(→128) → cosine head (9 classes, s = 30), Adam lr 1e-3,
//! batch 64, random data — the same net the PyTorch reference numbers in BENCHMARKS.md use.

use std::time::Instant;

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::error::ModelError;
use super::head::{one_hot, Head};
use super::net::Model;
use super::ops::{OpsDevice, T4};
use super::optim::{OptimConfig, Optimizer};
use crate::config::{DeviceKind, HeadConfig, HeadKind, ModelConfig, OptimizerKind};

pub const BATCH: usize = 64;
const CLASSES: usize = 9;
const WARMUP: usize = 5;

/// Measured speeds of one input size.
#[derive(Clone, Debug)]
pub struct BenchResult {
    pub input: (usize, usize, usize),
    pub batch: usize,
    pub threads: usize,
    pub train_ips: f64,
    pub infer_ips: f64,
    /// Building one batch with a random transform of the 72 (rotations × flip × shifts of
    /// ±4) per image, as transform-class training does, in microseconds.
    pub transform_us: f64,
}

impl BenchResult {
    pub fn line(&self) -> String {
        let (c, h, w) = self.input;
        let step_us = 1e6 * self.batch as f64 / self.train_ips;
        format!(
            "bench input={c}x{h}x{w} batch={} threads={} train_ips={:.0} infer_ips={:.0} \
             transform_us_per_batch={:.0} transform_share_of_step={:.2}%",
            self.batch,
            self.threads,
            self.train_ips,
            self.infer_ips,
            self.transform_us,
            100.0 * self.transform_us / step_us
        )
    }
}

/// Microseconds to build a batch of `BATCH` images of `input`, each through a random one of
/// the 72 transforms (median of `reps`).
pub fn bench_transforms(input: (usize, usize, usize), reps: usize) -> f64 {
    use crate::config::TransformSet;
    use crate::data::transforms::{expand, TransformTable};
    let set = TransformSet {
        rotations: vec![0, 90, 180, 270],
        flip: true,
        shifts: vec![-4, 0, 4],
    };
    let table = TransformTable::new(expand(&set), input);
    let (c, h, w) = input;
    let pix = c * h * w;
    let mut rng = StdRng::seed_from_u64(1);
    let images: Vec<f32> = (0..BATCH * pix).map(|_| rng.gen::<f32>()).collect();
    let mut out = Vec::with_capacity(BATCH * pix);
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        out.clear();
        let t0 = Instant::now();
        for i in 0..BATCH {
            let t = rng.gen_range(0..table.len());
            table.apply_into(t, &images[i * pix..(i + 1) * pix], &mut out);
        }
        std::hint::black_box(&out);
        times.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

/// Runs [`bench_net`] on `device` (on the calling thread's rayon pool) at batch [`BATCH`].
pub fn bench_on_device(
    device: DeviceKind,
    input: (usize, usize, usize),
    threads: usize,
    steps: usize,
) -> Result<BenchResult, ModelError> {
    bench_on_device_batch(device, input, BATCH, threads, steps)
}

/// [`bench_on_device`] at another batch size.
pub fn bench_on_device_batch(
    device: DeviceKind,
    input: (usize, usize, usize),
    batch: usize,
    threads: usize,
    steps: usize,
) -> Result<BenchResult, ModelError> {
    match device {
        DeviceKind::Cpu => bench_net(Cpu::seed_from_u64(0), input, batch, threads, steps),
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => {
            let dev = super::device::open_cuda(0)?;
            bench_net(dev, input, batch, threads, steps)
        }
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda => match super::device::open_cuda(0)? {},
    }
}

/// The bench net's model config.
pub fn bench_model_config() -> (ModelConfig, HeadConfig) {
    (
        ModelConfig {
            widths: vec![32, 64],
            convs_per_stage: 1,
            padding: 0,
            embedding_dim: 128,
        },
        HeadConfig {
            kind: HeadKind::Cosface,
            s: 30.0,
            m: 0.0,
            alpha: None,
            easy_margin: false,
        },
    )
}

/// Times `steps` training steps and `steps` inference passes after warm-up.
pub fn bench_net<D: OpsDevice + Synchronize>(
    dev: D,
    input: (usize, usize, usize),
    batch: usize,
    threads: usize,
    steps: usize,
) -> Result<BenchResult, ModelError> {
    let (mcfg, hcfg) = bench_model_config();
    let mut rng = StdRng::seed_from_u64(0);
    let mut model = Model::new(&dev, &mcfg, &hcfg, input, CLASSES, &mut rng)?;
    let mut opt = Optimizer::new(OptimConfig {
        kind: OptimizerKind::Adam,
        lr: 1e-3,
        weight_decay: 0.0,
        momentum: 0.9,
        betas: (0.9, 0.999),
        eps: 1e-8,
    });
    let (c, h, w) = input;
    let x: Vec<f32> = (0..batch * c * h * w).map(|_| rng.gen::<f32>()).collect();
    let labels: Vec<usize> = (0..batch).map(|_| rng.gen_range(0..CLASSES)).collect();
    let xt: T4<D> = dev.tensor_from_vec(x, (batch, c, h, w));
    let oh = one_hot(&dev, &labels, CLASSES);

    let mut train_step = |model: &mut Model<D>| {
        let emb = model
            .backbone
            .forward(xt.clone().trace(Gradients::leaky()), true);
        let (logits, _) = model.head.logits(emb, &oh);
        let loss = Head::<D>::loss(logits, &oh);
        let mut grads = loss.backward();
        opt.update(model, &mut grads);
    };
    for _ in 0..WARMUP {
        train_step(&mut model);
    }
    dev.synchronize();
    let t0 = Instant::now();
    for _ in 0..steps {
        train_step(&mut model);
    }
    dev.synchronize();
    let train_ips = (steps * batch) as f64 / t0.elapsed().as_secs_f64();

    let infer = |model: &mut Model<D>| {
        let emb = model.backbone.forward(xt.clone(), false);
        let cos = model.head.cosines(emb);
        std::hint::black_box(cos);
    };
    for _ in 0..WARMUP {
        infer(&mut model);
    }
    dev.synchronize();
    let t0 = Instant::now();
    for _ in 0..steps {
        infer(&mut model);
    }
    dev.synchronize();
    let infer_ips = (steps * batch) as f64 / t0.elapsed().as_secs_f64();
    Ok(BenchResult {
        input,
        batch,
        threads,
        train_ips,
        infer_ips,
        transform_us: bench_transforms(input, 200),
    })
}
