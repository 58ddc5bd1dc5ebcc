//! Micro-benchmark of the two conv blocks of the bench net
//! (conv 3×3 → BN+ReLU → max-pool 2, twice: in→32→64 channels, no padding, no bias).
//!
//! Run with `cargo run --release --example bench_ops [threads] [steps]`.

use super::{BnMode, OpsDevice, Shape4, T1, T4};
use dfdx::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::time::Instant;

struct Block {
    w: T4<Cpu>,
    gamma: T1<Cpu>,
    beta: T1<Cpu>,
    rm: T1<Cpu>,
    rv: T1<Cpu>,
}

impl Block {
    fn new(dev: &Cpu, rng: &mut StdRng, i: usize, o: usize) -> Self {
        let bound = 1.0 / ((i * 9) as f32).sqrt();
        let w: Vec<f32> = (0..o * i * 9)
            .map(|_| rng.gen_range(-bound..bound))
            .collect();
        Self {
            w: dev.tensor_from_vec(w, (o, i, 3, 3)),
            gamma: dev.ones_like(&(o,)),
            beta: dev.zeros_like(&(o,)),
            rm: dev.zeros_like(&(o,)),
            rv: dev.ones_like(&(o,)),
        }
    }

    /// Variant 0: `conv3x3` → `batchnorm_relu` → `maxpool2`; 1: `conv3x3_input` for the first
    /// block, then `batchnorm_relu_maxpool2`; 2: `conv_block`.
    fn forward<T: Tape<f32, Cpu>>(
        &mut self,
        x: T4<Cpu, T>,
        mode: BnMode,
        variant: usize,
        first: bool,
    ) -> T4<Cpu, T> {
        let (g, b, rm, rv) = (&self.gamma, &self.beta, &mut self.rm, &mut self.rv);
        match variant {
            0 => {
                let y = Cpu::conv3x3(x, &self.w, None, 0).expect("conv3x3");
                let y = Cpu::batchnorm_relu(y, g, b, rm, rv, mode).expect("batchnorm_relu");
                Cpu::maxpool2(y).expect("maxpool2")
            }
            1 => {
                let y = if first {
                    Cpu::conv3x3_input(x, &self.w, None, 0)
                } else {
                    Cpu::conv3x3(x, &self.w, None, 0)
                };
                let y = y.expect("conv3x3");
                Cpu::batchnorm_relu_maxpool2(y, g, b, rm, rv, mode)
                    .expect("batchnorm_relu_maxpool2")
            }
            _ => Cpu::conv_block(x, &self.w, None, 0, g, b, rm, rv, mode, !first)
                .expect("conv_block"),
        }
    }
}

/// CPU seconds (user + system) used by this process so far, from `/proc/self/stat` (Linux;
/// clock ticks of 10 ms). Unlike wall time it is not inflated by other processes on the machine.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Times `steps` training steps (forward + backward, BN in Train mode) and `steps` inference
/// steps (forward, `NoneTape`, BN in Eval mode) of the two conv blocks after two warm-up steps,
/// on a rayon pool of `threads` threads. Returns a one-line report with images per second for
/// the plain ops (`conv3x3` → `batchnorm_relu` → `maxpool2`), the fused ones (`conv3x3_input`
/// for the first conv, `batchnorm_relu_maxpool2`) and whole `conv_block`s, plus the CPU time
/// per batch (all threads; robust to other load on the machine, unlike the wall-clock rates).
pub fn bench_ops(
    input: (usize, usize, usize),
    batch: usize,
    threads: usize,
    steps: usize,
) -> String {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("rayon pool");
    pool.install(|| {
        let dev = Cpu::default();
        let mut rng = StdRng::seed_from_u64(0);
        let (c, h, w) = input;
        let shape: Shape4 = (batch, c, h, w);
        let x: Vec<f32> = (0..batch * c * h * w)
            .map(|_| rng.gen_range(-1.0..1.0))
            .collect();
        let x: T4<Cpu> = dev.tensor_from_vec(x, shape);
        let mut b1 = Block::new(&dev, &mut rng, c, 32);
        let mut b2 = Block::new(&dev, &mut rng, 32, 64);
        let train = BnMode::Train { momentum: 0.1 };

        let mut report = format!("input {c}x{h}x{w} batch {batch} threads {threads}:");
        for variant in 0..3 {
            let mut train_step = || {
                let y = b1.forward(x.trace(Gradients::leaky()), train, variant, true);
                let y = b2.forward(y, train, variant, false);
                std::hint::black_box(y.sum::<(), _>().backward());
            };
            for _ in 0..2 {
                train_step();
            }
            let (t, cpu) = (Instant::now(), process_cpu_seconds());
            for _ in 0..steps {
                train_step();
            }
            let train_ips = (steps * batch) as f64 / t.elapsed().as_secs_f64();
            let train_cpu = cpu
                .zip(process_cpu_seconds())
                .map(|(a, b)| (b - a) / steps as f64);

            let mut infer_step = || {
                let y = b1.forward(x.clone(), BnMode::Eval, variant, true);
                std::hint::black_box(b2.forward(y, BnMode::Eval, variant, false));
            };
            for _ in 0..2 {
                infer_step();
            }
            let (t, cpu) = (Instant::now(), process_cpu_seconds());
            for _ in 0..steps {
                infer_step();
            }
            let infer_ips = (steps * batch) as f64 / t.elapsed().as_secs_f64();
            let infer_cpu = cpu
                .zip(process_cpu_seconds())
                .map(|(a, b)| (b - a) / steps as f64);
            let name = ["plain", "fused", "block"][variant];
            let ms = |c: Option<f64>| c.map_or("?".into(), |c| format!("{:.1}", c * 1e3));
            report += &format!(
                " {name} train {train_ips:.0} / infer {infer_ips:.0} img/s \
                 (CPU {} / {} ms per batch);",
                ms(train_cpu),
                ms(infer_cpu)
            );
        }
        report.pop();
        report
    })
}
