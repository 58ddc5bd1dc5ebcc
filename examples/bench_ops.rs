//! Micro-benchmark of our conv/BN/pool ops: `cargo run --release --example bench_ops [threads] [steps]`.

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: Option<usize> = args.next().and_then(|a| a.parse().ok());
    let steps: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(30);
    let thread_counts = match threads {
        Some(t) => vec![t],
        None => vec![1, 2],
    };
    for input in [(1, 28, 28), (3, 32, 32)] {
        for &t in &thread_counts {
            println!(
                "{}",
                adalab::model::ops::bench::bench_ops(input, 64, t, steps)
            );
        }
    }
}

// Like the application binary: mimalloc keeps big buffers mapped between steps.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
